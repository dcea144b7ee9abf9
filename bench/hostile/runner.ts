/**
 * One run of one scenario against one server: a fresh server process, N peers, a memory sample
 * with the connections open and idle, the attack, a second sample, then how each connection ended.
 */
import { median } from '../procs.js';
import { Peer } from './peer.js';
import type { Scenario } from './scenarios.js';
import { ServerProcess, type MemorySample, type ServerKind } from './server-process.js';

export interface RunResult {
  scenario: string;
  server: ServerKind;
  rep: number;
  connections: number;
  before: MemorySample | null;
  during: MemorySample | null;
  /** (heapUsed + arrayBuffers) during minus before, per connection; null if the server died. */
  heldPerConnection: number | null;
  heapPerConnection: number | null;
  arrayBuffersPerConnection: number | null;
  /** Highest RSS seen during the attack minus RSS before it, whole process. */
  peakRssDelta: number | null;
  crashed: string | null;
  /** Connections by how they ended: "closed 1009", "still open", "dropped (no close frame)". */
  endings: Record<string, number>;
  /** Median ms from the attack's start to the peer seeing the close frame (peers that read during the attack). */
  closedAfter: number | null;
  /** Data the peers sent in all, in the scenario's unit, summed. */
  sent: number;
  ms: number;
}

const perConnection = (a: number, b: number, n: number) => (a - b) / n;


function ending(peer: Peer): string {
  if (peer.closeCode !== null) return `closed ${peer.closeCode}`;
  return peer.ended ? 'dropped (no close frame)' : 'still open';
}

export async function runOnce(scenario: Scenario, kind: ServerKind, lib: string, rep: number): Promise<RunResult> {
  const t0 = Date.now();
  const n = scenario.connections;
  const server = await ServerProcess.start({ kind, ...scenario.server }, lib);
  const peers: Peer[] = [];
  try {
    for (let i = 0; i < n; i++) peers.push(await Peer.open(server.port, { deflate: scenario.server.deflate, read: scenario.read }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = await server.sample(true);

    const start = Date.now();
    const deadline = start + scenario.window;
    await Promise.all(peers.map((peer) => scenario.attack(peer, deadline).catch(() => {})));
    if (scenario.sync) {
      // A ping after the attack: its pong says the server has parsed everything before it.
      const syncDeadline = Date.now() + 20_000;
      await Promise.all(peers.map((peer) => peer.sync(syncDeadline)));
    } else {
      await new Promise((resolve) => setTimeout(resolve, scenario.read ? 200 : 500));
    }
    const during = await server.sample();
    const peak = server.lastPeak;

    if (!scenario.read) {
      // Read now, to see whether the server closed these connections (and with which code).
      const closeDeadline = Date.now() + 3_000;
      for (const peer of peers) peer.startReading();
      await Promise.all(peers.map((peer) => peer.closed(closeDeadline)));
    }
    const crashed = server.died;
    const endings: Record<string, number> = {};
    for (const peer of peers) endings[ending(peer)] = (endings[ending(peer)] ?? 0) + 1;
    const closedAt = scenario.read ? peers.filter((p) => p.noticedAt !== null).map((p) => p.noticedAt! - start) : [];
    const ok = before !== null && during !== null && crashed === null;
    return {
      scenario: scenario.id,
      server: kind,
      rep,
      connections: n,
      before,
      during,
      heldPerConnection: ok ? perConnection(during.heapUsed + during.arrayBuffers, before.heapUsed + before.arrayBuffers, n) : null,
      heapPerConnection: ok ? perConnection(during.heapUsed, before.heapUsed, n) : null,
      arrayBuffersPerConnection: ok ? perConnection(during.arrayBuffers, before.arrayBuffers, n) : null,
      peakRssDelta: before ? Math.max(peak, during?.peakRss ?? 0) - before.rss : null,
      crashed,
      endings: crashed ? { crashed: n } : endings,
      closedAfter: closedAt.length > 0 ? median(closedAt) : null,
      sent: peers.reduce((sum, p) => sum + p.sent, 0),
      ms: Date.now() - t0,
    };
  } finally {
    for (const peer of peers) peer.destroy();
    await server.stop();
  }
}
