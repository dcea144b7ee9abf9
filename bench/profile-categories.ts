/**
 * Where a server's time went during a benchmark's measured window, from a V8 .cpuprofile: idle, GC,
 * the socket syscalls (the native write and read calls), the WebSocket library under test, Node's own JS
 * (node:…), and the rest (other native code, V8's "(program)"). `npm run bench -- --profile` uses
 * it; by hand: tsx bench/profile-categories.ts FILE.cpuprofile [FROM_US TO_US].
 *
 * V8 stamps samples with the monotonic clock, in µs, as `process.hrtime` reads it, so a window
 * taken in the benchmark process selects the samples of the measured seconds only (no warm-up,
 * no start-up).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export const CATEGORIES = ['idle', 'gc', 'syscalls', 'library', 'node', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];
export type Shares = Record<Category, number>;

// The native calls through which Node's stream handles reach the kernel.
const SYSCALLS = new Set(['writeBuffer', 'writev', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'readStart', 'readStop', 'onStreamRead', 'close', 'shutdown']);

function categoryOf(node: ProfileNode): Category {
  const { functionName, url } = node.callFrame;
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'gc';
  if (url === '' && SYSCALLS.has(functionName)) return 'syscalls';
  // The WebSocket library under test: this one's build, or ws (with bufferutil) from bench/.peers.
  if (url.includes('/dist/') || url.includes('/src/') || url.includes('/node_modules/ws/') || url.includes('/node_modules/bufferutil/')) return 'library';
  if (url.startsWith('node:')) return 'node';
  return 'other';
}

/** Shares of the window's sampled time (0–1) by category; `busyUs` is all but idle, `samples` how many fell in it. */
export function categorize(file: string, fromUs = -Infinity, toUs = Infinity): { shares: Shares; busyUs: number; totalUs: number; samples: number } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, categoryOf(n)]));
  const time: Shares = { idle: 0, gc: 0, syscalls: 0, library: 0, node: 0, other: 0 };
  let at = profile.startTime;
  let total = 0;
  let samples = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (at < fromUs || at > toUs) return;
    time[byId.get(id) ?? 'other'] += dt;
    total += dt;
    samples++;
  });
  const shares = { ...time };
  for (const c of CATEGORIES) shares[c] = total > 0 ? time[c] / total : 0;
  return { shares, busyUs: total - time.idle, totalUs: total, samples };
}

/** "idle 30% · gc 2% · syscalls 44% · …", busy shares first. */
export function formatShares(shares: Shares): string {
  return CATEGORIES.map((c) => `${c} ${Math.round(shares[c] * 100)}%`).join(' · ');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, from, to] = process.argv.slice(2);
  const result = categorize(file, from ? Number(from) : undefined, to ? Number(to) : undefined);
  console.log(`${result.samples} samples, ${(result.totalUs / 1000).toFixed(0)} ms: ${formatShares(result.shares)}`);
}
