/** The text report of a run, and the JSON one `--json` prints instead. */
import type { BenchOptions } from './options.js';
import { SCHEMA, median, type Figures, type Mode } from './result.js';

const UNITS: Record<Mode, string> = { echo: 'messages/s', churn: 'handshakes/s', broadcast: 'deliveries/s' };
const LATENCY: Record<Mode, string> = { echo: 'round trip', churn: 'handshake', broadcast: 'fan-out: send to last delivery' };

export function describeRun(options: BenchOptions): string {
  const kind = options.binary ? 'binary' : 'text';
  const deflate = options.deflate ? ', permessage-deflate offered' : '';
  if (options.mode === 'churn') return `churn, ${options.parallel} handshakes at a time, ${options.duration} s`;
  if (options.mode === 'broadcast') {
    return `broadcast, ${options.conns} conns (1 sends, ${options.conns - 1} receive) × ${options.depth} in flight × ${options.size} B ${kind}${deflate}, ${options.duration} s`;
  }
  return `echo, ${options.conns} conns × ${options.depth} in flight × ${options.size} B ${kind}${deflate}, ${options.duration} s`;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatUs(us: number): string {
  return us >= 10_000 ? `${(us / 1000).toFixed(0)} ms` : us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`;
}

function cpuLine(f: Figures): string {
  const share = `${Math.round(f.loadgen_cpu * 100)}% of a core`;
  return f.lower_bound ? `${share} — saturated: the figures are a lower bound for the server` : share;
}

export function formatFigures(mode: Mode, f: Figures): string[] {
  const l = f.latency_us;
  return [
    `  ${UNITS[mode].padEnd(14)}${formatCount(f.per_s)}`,
    ...(mode === 'churn' ? [] : [`  ${'MB/s'.padEnd(14)}${f.mb_per_s.toFixed(2)}`]),
    `  ${'latency'.padEnd(14)}p50 ${formatUs(l.p50)} · p90 ${formatUs(l.p90)} · p99 ${formatUs(l.p99)} · max ${formatUs(l.max)} (${LATENCY[mode]})`,
    `  ${'errors'.padEnd(14)}${f.errors}`,
    `  ${'generator'.padEnd(14)}${cpuLine(f)}`,
  ];
}

export interface Endpoint {
  url: string;
  runs: Figures[];
  median: Figures;
}

/** Medians figure by figure (of each run's per_s, p50, …), so one noisy run moves nothing. */
export function medianFigures(runs: Figures[]): Figures {
  const m = (pick: (f: Figures) => number) => median(runs.map(pick));
  return {
    seconds: m((f) => f.seconds),
    count: m((f) => f.count),
    per_s: m((f) => f.per_s),
    mb_per_s: m((f) => f.mb_per_s),
    latency_us: { p50: m((f) => f.latency_us.p50), p90: m((f) => f.latency_us.p90), p99: m((f) => f.latency_us.p99), max: Math.max(...runs.map((f) => f.latency_us.max)) },
    errors: runs.reduce((sum, f) => sum + f.errors, 0),
    loadgen_cpu: m((f) => f.loadgen_cpu),
    lower_bound: runs.some((f) => f.lower_bound),
  };
}

export function formatComparison(mode: Mode, endpoints: Endpoint[]): string[] {
  const base = endpoints[0].median;
  const width = Math.max(...endpoints.map((e) => e.url.length), 8);
  const lines = [
    `  ${'endpoint'.padEnd(width)}  ${UNITS[mode].padStart(13)}  ratio  ${'p50'.padStart(8)}  ${'p99'.padStart(8)}  errors  generator`,
  ];
  for (const e of endpoints) {
    const f = e.median;
    const ratio = base.per_s > 0 ? (f.per_s / base.per_s).toFixed(2) : '–';
    lines.push(
      `  ${e.url.padEnd(width)}  ${formatCount(f.per_s).padStart(13)}  ${ratio.padStart(5)}  ${formatUs(f.latency_us.p50).padStart(8)}  ${formatUs(f.latency_us.p99).padStart(8)}  ${String(f.errors).padStart(6)}  ${Math.round(f.loadgen_cpu * 100)}%${f.lower_bound ? ' (lower bound)' : ''}`,
    );
  }
  return lines;
}

export function toJson(options: BenchOptions, generator: { kind: string; description: string }, endpoints: Endpoint[], version: string): object {
  const base = endpoints[0].median.per_s;
  return {
    schema: SCHEMA,
    tool: 'rfc6455 bench',
    version,
    mode: options.mode,
    unit: UNITS[options.mode],
    generator: { kind: generator.kind, description: generator.description },
    options: {
      conns: options.conns,
      depth: options.depth,
      size: options.size,
      binary: options.binary,
      deflate: options.deflate,
      duration_s: options.duration,
      warmup_s: options.warmup,
      parallel: options.parallel,
      reps: options.reps,
    },
    endpoints: endpoints.map((e) => ({ url: e.url, median: e.median, runs: e.runs, ratio: base > 0 ? e.median.per_s / base : null })),
  };
}
