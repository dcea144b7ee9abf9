/** Medians over the repetitions, the markdown table and the JSON document. */
import { median } from '../procs.js';
import type { RunResult } from './runner.js';
import type { Scenario } from './scenarios.js';
import type { ServerKind } from './server-process.js';

export interface Cell {
  scenario: string;
  server: ServerKind;
  runs: number;
  heldPerConnection: number | null;
  heapPerConnection: number | null;
  arrayBuffersPerConnection: number | null;
  peakRssDelta: number | null;
  /** Open connections the server counted at the second sample (median). */
  openAtSample: number | null;
  /** bufferedAmount per open connection at the second sample (median). */
  bufferedPerConnection: number | null;
  outcome: string;
}

export interface Meta {
  date: string;
  commit: string;
  rfc6455: string;
  ws: string;
  node: string;
  cpu: string;
  pinned: boolean;
  reps: number;
  seconds: number;
}

function bytes(n: number | null): string {
  if (n === null) return '—';
  const sign = n < 0 ? '−' : '';
  const a = Math.abs(n);
  if (a >= 1024 * 1024) return `${sign}${(a / 1024 / 1024).toFixed(1)} MiB`;
  if (a >= 1024) return `${sign}${(a / 1024).toFixed(1)} KiB`;
  return `${sign}${Math.round(a)} B`;
}


/** "closed 1009", "still open ×12, closed 1013 ×20", "crashed (SIGABRT…)". */
function kinds(run: RunResult): string {
  if (run.crashed) return `crashed (${run.crashed})`;
  const entries = Object.entries(run.endings);
  if (entries.length === 1) return entries[0][0];
  return entries.map(([what, n]) => `${what} ×${n}`).join(', ');
}

function outcome(runs: RunResult[]): string {
  const each = runs.map(kinds);
  if (each.every((k) => k === each[0])) {
    const after = runs.filter((r) => r.closedAfter !== null).map((r) => r.closedAfter!);
    return after.length > 0 && !each[0].startsWith('crashed') ? `${each[0]} (seen at ${(median(after) / 1000).toFixed(1)} s)` : each[0];
  }
  return each.join(' / ');
}

const medianOf = (runs: RunResult[], pick: (r: RunResult) => number | null): number | null => {
  const values = runs.map(pick).filter((v): v is number => v !== null);
  return values.length > 0 ? median(values) : null;
};

export function cells(results: RunResult[], scenarios: Scenario[], servers: ServerKind[]): Cell[] {
  const out: Cell[] = [];
  for (const scenario of scenarios) {
    for (const server of servers) {
      const runs = results.filter((r) => r.scenario === scenario.id && r.server === server);
      if (runs.length === 0) continue;
      out.push({
        scenario: scenario.id,
        server,
        runs: runs.length,
        heldPerConnection: medianOf(runs, (r) => r.heldPerConnection),
        heapPerConnection: medianOf(runs, (r) => r.heapPerConnection),
        arrayBuffersPerConnection: medianOf(runs, (r) => r.arrayBuffersPerConnection),
        peakRssDelta: medianOf(runs, (r) => r.peakRssDelta),
        openAtSample: medianOf(runs, (r) => r.during?.open ?? null),
        bufferedPerConnection: medianOf(runs, (r) => (r.during && r.during.open > 0 ? r.during.bufferedAmount / r.during.open : null)),
        outcome: outcome(runs),
      });
    }
  }
  return out;
}

export function markdown(meta: Meta, all: Cell[], scenarios: Scenario[], servers: ServerKind[]): string {
  const find = (s: string, k: ServerKind) => all.find((c) => c.scenario === s && c.server === k);
  const lines = [
    `# Hostile peers: bytes a server holds per connection`,
    '',
    `${meta.date}, commit ${meta.commit}, rfc6455 from \`${meta.rfc6455}\`, ws ${meta.ws}, Node ${meta.node}, ${meta.cpu}. ` +
      `${meta.pinned ? 'Server pinned to core 0, attackers to core 1 (`taskset`)' : 'Not pinned (no taskset)'}; loopback TCP; ` +
      `median of ${meta.reps} run(s) each; the whole run took ${Math.round(meta.seconds)} s. ` +
      'Produced by `npx tsx bench/hostile.ts`.',
    '',
    '**held/conn** is (heapUsed + arrayBuffers) after two forced GCs during the attack, minus the same with the connections open and idle, divided by the connections. ' +
      '**peak RSS Δ** is the highest RSS the server process saw during the attack minus its RSS before it (whole process, sampled every 5 ms). ' +
      '**outcome** is how the connections stood at the end: the close code the server sent (and, for peers that read during the attack, when they saw it after the attack began; the writes of the attack run ahead of the reads of the server, so the server closed at or before that), "dropped" when the server closed TCP without a close frame, still open, or the server crashed.',
    '',
  ];
  const head = ['scenario', ...servers.flatMap((k) => [`${k} held/conn`, `${k} peak RSS Δ`, `${k} outcome`])];
  lines.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 || head[i].endsWith('outcome') ? '---' : '---:')).join('|')}|`);
  for (const s of scenarios) {
    const row = [`${s.title} (${s.connections} conns)`];
    for (const k of servers) {
      const c = find(s.id, k);
      row.push(bytes(c?.heldPerConnection ?? null), bytes(c?.peakRssDelta ?? null), c?.outcome ?? '—');
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  lines.push('', '## Details', '', '| scenario | server | heap/conn | arrayBuffers/conn | bufferedAmount/open conn | open at sample |', '|---|---|---:|---:|---:|---:|');
  for (const s of scenarios) {
    for (const k of servers) {
      const c = find(s.id, k);
      if (c) lines.push(`| ${s.id} | ${k} | ${bytes(c.heapPerConnection)} | ${bytes(c.arrayBuffersPerConnection)} | ${bytes(c.bufferedPerConnection)} | ${c.openAtSample ?? '—'} / ${s.connections} |`);
    }
  }
  lines.push('', '## Scenarios', '');
  for (const s of scenarios) lines.push(`- **${s.id}** (${s.connections} connections, maxPayload ${s.server.maxPayload / 1024 / 1024} MiB${s.server.deflate ? ', permessage-deflate' : ''}): ${s.description}.`);
  lines.push(
    '',
    'Both servers echo every message (`ws.send(data)`), with the same maxPayload; otherwise default options ' +
      '(rfc6455: send() closes with 1013 past 16 MiB waiting, maxBufferedAmount; ws 8.23: maxFragments 16,384 (then 1008), maxPendingAutoPongs 60 (then terminate), maxBufferedChunks 262,144, no limit on what send() queues).',
    '',
  );
  return lines.join('\n');
}
