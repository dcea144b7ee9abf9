/**
 * Turns a results JSON into latest.md and SVG charts. Run on its own to redraw from a saved run:
 *   tsx bench/report.ts bench/results/latest.json [outdir]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { barChart, type Bar } from './charts.js';
import { median } from './procs.js';
import { CATEGORIES, formatShares, type Shares } from './profile-categories.js';

export interface EchoRun {
  per_s: number;
  mb_per_s: number;
  p50_us: number;
  p99_us: number;
  loadgen_cpu: number;
  /** The server's CPU (user + system) over the measured window, as a share of one core. */
  server_cpu?: number;
  rss_one: number;
  rss_all: number;
  conns: number;
  /** With --profile: where a Node server's measured window went. */
  profile?: Shares;
  [key: string]: unknown;
}

export interface EchoCell {
  runs: EchoRun[];
  median: { value: number; p50_us: number; p99_us: number; loadgen_cpu: number; bytes_per_conn?: number; server_cpu?: number };
  error?: string;
}

export interface MicroRow {
  op: string;
  size: string;
  bytes: number;
  masked: boolean;
  impl: string;
  frames_s: number;
  gb_s: number;
  runs: number[];
}

export interface Results {
  date: string;
  quick: boolean;
  git: { commit: string; dirty: boolean };
  machine: { cpu: string; cores: number; kernel: string; memory_gb: number; loadavg_start?: number[]; loadavg_end?: number[] };
  /** Observations added by hand after the run. */
  notes?: string[];
  node: string;
  peers: Record<string, string | boolean | null>;
  problems: string[];
  config: { warmup_s: number; duration_s: number; reps: number; micro_ms: number };
  servers: { id: string; label: string }[];
  scenarios: { id: string; title: string; unit: string; metric: string }[];
  echo: Record<string, Record<string, EchoCell>>;
  micro: MicroRow[];
}

export const SERVER_ORDER = ['rfc6455', 'rfc6455-stream', 'rfc6455-base', 'ws', 'ws-js', 'bun', 'deno', 'node-floor', 'cecho', 'rfc6455-n24', 'rfc6455-stream-n24', 'ws-n24'];

function fmtValue(value: number, unit: string): string {
  if (unit === 'MB/s') return `${value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1)} MB/s`;
  if (unit === 'KB') return `${(value / 1000).toFixed(1)} KB`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e4) return `${Math.round(value / 1e3).toLocaleString('en-US')} k`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(0);
}

function ratio(a: number | undefined, b: number | undefined, lowerIsBetter = false): string {
  if (!a || !b) return '–';
  const r = lowerIsBetter ? a / b : a / b;
  return `${r.toFixed(2)}×`;
}

function fmtUs(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`;
}

function value(results: Results, scenario: string, server: string): number | undefined {
  const cell = results.echo[scenario]?.[server];
  if (!cell || cell.error || !cell.runs.length) return undefined;
  return cell.median.value;
}

export function render(results: Results, outDir: string, prefix = ''): string[] {
  const written: string[] = [];
  const servers = SERVER_ORDER.map((id) => results.servers.find((s) => s.id === id)).filter((s): s is { id: string; label: string } => !!s);
  const lines: string[] = [];
  lines.push(`# Benchmark results${results.quick ? ' (quick run)' : ''}`);
  lines.push('');
  lines.push(
    `${results.date} · ${results.machine.cpu}, ${results.machine.cores} cores, Linux ${results.machine.kernel} · Node ${results.node} · ` +
      `rfc6455 @ ${results.git.commit.slice(0, 7)}${results.git.dirty ? ' (uncommitted changes)' : ''} · ` +
      `ws ${results.peers.ws ?? 'n/a'} (bufferutil ${results.peers.bufferutil ?? 'n/a'}${results.peers.bufferutilNative ? ', native' : ', not native'}) · ` +
      `Bun ${results.peers.bun ?? 'n/a'} · Deno ${results.peers.deno ?? 'n/a'}`,
  );
  lines.push('');
  lines.push(
    `Server pinned to core 0 (\`taskset -c 0\`), the C load generator (\`bench/echo/loadgen.c\`) to core 1; loopback TCP. ` +
      `Each figure is the median of ${results.config.reps} run(s) of ${results.config.duration_s} s after ${results.config.warmup_s} s of warm-up; ` +
      `ratios compare figures from the same run. MB/s counts echoed payload bytes one way. ` +
      `"Node floor" is a minimal server on node:http with a trivial frame loop and no validation (\`bench/echo/servers/node-floor.mjs\`, small messages only): ` +
      `an estimate of what Node's own sockets cost before any real framing work. ` +
      `"C ceiling" is a minimal C echo server (\`bench/echo/servers/cecho.c\`): what the load generator can drive on this machine.`,
  );
  lines.push('');
  // The load at the end counts the benchmark's own two pinned processes: only the start tells of others.
  if ((results.machine.loadavg_start?.[0] ?? 0) > results.machine.cores * 0.75) {
    lines.push(
      `> Load average ${results.machine.loadavg_start?.[0]} at the start, ${results.machine.loadavg_end?.[0]} at the end, on ${results.machine.cores} cores: ` +
        'other processes shared the pinned cores, so absolute figures are depressed and noisy. Compare within a row only.',
    );
  }
  for (const note of results.notes ?? []) lines.push(`> ${note}`);
  for (const problem of results.problems) lines.push(`> ${problem}`);
  if (lines[lines.length - 1] !== '') lines.push('');

  lines.push(`| scenario | ${servers.map((s) => s.label).join(' | ')} | rfc6455 / ws | rfc6455 / ws pure JS | rfc6455 / Bun | rfc6455 / C ceiling | fast path on / off |`);
  lines.push(`|---|${servers.map(() => '---:').join('|')}|---:|---:|---:|---:|---:|`);
  for (const sc of results.scenarios) {
    const lower = sc.unit === 'KB';
    const cells = servers.map((s) => {
      const cell = results.echo[sc.id]?.[s.id];
      if (!cell) return '';
      if (cell.error) return 'failed';
      const v = cell.median.value;
      const flag = !lower && cell.median.loadgen_cpu > 0.85 ? ' ⚑' : '';
      return `${fmtValue(v, sc.unit)}${flag}`;
    });
    const ours = value(results, sc.id, 'rfc6455');
    lines.push(
      `| ${sc.title} | ${cells.join(' | ')} | ${ratio(ours, value(results, sc.id, 'ws'))} | ${ratio(ours, value(results, sc.id, 'ws-js'))} | ${ratio(ours, value(results, sc.id, 'bun'))} | ${ratio(ours, value(results, sc.id, 'cecho'))} | ${ratio(ours, value(results, sc.id, 'rfc6455-stream'))} |`,
    );
  }
  lines.push('');
  lines.push(
    '⚑ the load generator used more than 85% of its core during that measurement: the figure is a lower bound of what the server can do. ' +
      'Memory rows: lower is better, and the ratio is ours / theirs (below 1 is better).',
  );
  lines.push('');

  lines.push('### Latency (p50 / p99)');
  lines.push('');
  lines.push(`| scenario | ${servers.map((s) => s.label).join(' | ')} |`);
  lines.push(`|---|${servers.map(() => '---:').join('|')}|`);
  for (const sc of results.scenarios) {
    if (sc.unit === 'KB') continue;
    const cells = servers.map((s) => {
      const cell = results.echo[sc.id]?.[s.id];
      if (!cell || cell.error) return '';
      return `${fmtUs(cell.median.p50_us)} / ${fmtUs(cell.median.p99_us)}`;
    });
    lines.push(`| ${sc.title} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  lines.push('Latency is per message for echo, per whole fan-out (all deliveries in) for broadcast, per handshake for churn.');
  lines.push('');

  lines.push('### Load generator CPU (share of its core while measuring)');
  lines.push('');
  lines.push(`| scenario | ${servers.map((s) => s.label).join(' | ')} |`);
  lines.push(`|---|${servers.map(() => '---:').join('|')}|`);
  for (const sc of results.scenarios) {
    if (sc.unit === 'KB') continue;
    const cells = servers.map((s) => {
      const cell = results.echo[sc.id]?.[s.id];
      if (!cell || cell.error) return '';
      return `${Math.round(cell.median.loadgen_cpu * 100)}%`;
    });
    lines.push(`| ${sc.title} | ${cells.join(' | ')} |`);
  }
  lines.push('');

  if (results.scenarios.some((sc) => servers.some((s) => results.echo[sc.id]?.[s.id]?.median.server_cpu !== undefined))) {
    lines.push('### Server CPU (share of its core while measuring; per message or delivery, in µs)');
    lines.push('');
    lines.push('Where the load generator saturates (⚑), throughput is a lower bound; CPU per message is what compares servers there.');
    lines.push('');
    lines.push(`| scenario | ${servers.map((s) => s.label).join(' | ')} |`);
    lines.push(`|---|${servers.map(() => '---:').join('|')}|`);
    for (const sc of results.scenarios) {
      if (sc.unit === 'KB') continue;
      const cells = servers.map((s) => {
        const cell = results.echo[sc.id]?.[s.id];
        const cpu = cell?.median.server_cpu;
        if (!cell || cell.error || cpu === undefined) return '';
        const perSecond = sc.metric === 'per_s' ? cell.median.value : 0;
        const perItem = perSecond > 0 ? ` · ${((cpu * 1e6) / perSecond).toFixed(2)} µs` : '';
        return `${Math.round(cpu * 100)}%${perItem}`;
      });
      lines.push(`| ${sc.title} | ${cells.join(' | ')} |`);
    }
    lines.push('');
  }

  // With --profile: the Node servers' measured windows by category (medians over the runs).
  const profiled = servers.filter((s) => results.scenarios.some((sc) => results.echo[sc.id]?.[s.id]?.runs.some((r) => r.profile)));
  if (profiled.length) {
    lines.push('### Where the time went (`--profile`: Node servers under `--cpu-prof`)');
    lines.push('');
    lines.push('Shares of each server\'s measured window, medians over the runs: idle, GC, the socket syscalls (the native write and read calls), the WebSocket library, Node\'s own JS and the rest (`bench/profile-categories.ts`). The profiler slows the servers it runs in: compare throughput in a run without `--profile`.');
    lines.push('');
    lines.push(`| scenario | ${profiled.map((s) => s.label).join(' | ')} |`);
    lines.push(`|---|${profiled.map(() => '---').join('|')}|`);
    for (const sc of results.scenarios) {
      if (sc.unit === 'KB') continue;
      const cells = profiled.map((s) => {
        const runs = (results.echo[sc.id]?.[s.id]?.runs ?? []).flatMap((r) => (r.profile ? [r.profile] : []));
        if (!runs.length) return '';
        return formatShares(Object.fromEntries(CATEGORIES.map((c) => [c, median(runs.map((r) => r[c]))])) as Shares);
      });
      lines.push(`| ${sc.title} | ${cells.join(' | ')} |`);
    }
    lines.push('');
  }

  // Charts, one per scenario.
  lines.push('### Charts');
  lines.push('');
  for (const sc of results.scenarios) {
    const bars: Bar[] = servers
      .filter((s) => results.echo[sc.id]?.[s.id])
      .map((s) => {
        const cell = results.echo[sc.id][s.id];
        const v = cell.error ? null : cell.median.value;
        return {
          label: s.label,
          value: v,
          text: v === null ? undefined : fmtValue(v, sc.unit) + (sc.unit !== 'KB' && !/MB/.test(sc.unit) ? ` ${sc.unit}` : ''),
          kind: s.id === 'rfc6455' ? 'ours' : s.id === 'cecho' || s.id === 'node-floor' ? 'ceiling' : 'peer',
        } satisfies Bar;
      });
    if (!bars.length) continue;
    const file = `${prefix}${sc.id}.svg`;
    const subtitle = `${sc.unit === 'KB' ? 'lower is better' : 'higher is better'} · server on 1 core · Node ${results.node} · ${results.machine.cpu}`;
    writeFileSync(path.join(outDir, file), barChart(sc.title, subtitle, bars));
    written.push(file);
    lines.push(`![${sc.title}](${file})`);
    lines.push('');
  }

  // Micro benchmarks.
  if (results.micro.length) {
    lines.push('## Micro benchmarks (one process, core 0)');
    lines.push('');
    lines.push('Frames per second (payload GB/s). ws is its `Receiver` fed with `write(chunk)`, `Sender.frame()` and `buffer-util` `unmask`.');
    lines.push('Parse input is whole 64 KiB socket reads holding as many frames as fit (at least one), except the "in 64 KiB reads" rows.');
    lines.push('');
    const impls = ['rfc6455', 'ws', 'ws-js'].filter((i) => results.micro.some((m) => m.impl === i));
    const label: Record<string, string> = { rfc6455: 'rfc6455', ws: 'ws + bufferutil', 'ws-js': 'ws, pure JS' };
    lines.push(`| operation | frame | ${impls.map((i) => label[i]).join(' | ')} | rfc6455 / ws | rfc6455 / ws pure JS |`);
    lines.push(`|---|---|${impls.map(() => '---:').join('|')}|---:|---:|`);
    const keys = [...new Set(results.micro.map((m) => `${m.op}|${m.size}|${m.masked}`))];
    const ratioBars: Bar[] = [];
    for (const key of keys) {
      const [op, size, masked] = key.split('|');
      const row = (impl: string) => results.micro.find((m) => `${m.op}|${m.size}|${m.masked}` === key && m.impl === impl);
      const cells = impls.map((i) => {
        const m = row(i);
        return m ? `${fmtValue(m.frames_s, '')} (${m.gb_s >= 100 ? Math.round(m.gb_s) : m.gb_s.toFixed(2)})` : '';
      });
      const ours = row('rfc6455')?.frames_s;
      const what = op === 'unmask' ? '' : masked === 'true' ? ', masked' : ', unmasked';
      lines.push(`| ${op} | ${size}${what} | ${cells.join(' | ')} | ${ratio(ours, row('ws')?.frames_s)} | ${ratio(ours, row('ws-js')?.frames_s)} |`);
      const vsWs = ours && row('ws') ? ours / row('ws')!.frames_s : null;
      if (vsWs !== null) ratioBars.push({ label: `${op} ${size}${what}`.replace(' in 64 KiB reads', '/64K'), value: vsWs, text: `${vsWs.toFixed(2)}×`, kind: vsWs >= 1 ? 'ours' : 'peer' });
    }
    lines.push('');
    if (ratioBars.length) {
      const file = `${prefix}micro.svg`;
      writeFileSync(path.join(outDir, file), barChart('rfc6455 vs ws + bufferutil, in process (frames/s ratio)', 'above 1×: rfc6455 faster · blue: faster, grey: slower', ratioBars).replace('width="640"', 'width="640"'));
      written.push(file);
      lines.push(`![micro benchmarks](${file})`);
      lines.push('');
    }
  }
  const md = `${prefix}latest.md`;
  writeFileSync(path.join(outDir, md), lines.join('\n'));
  written.push(md);
  return written;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), 'results/latest.json');
  const out = process.argv[3] ?? path.dirname(file);
  const written = render(JSON.parse(readFileSync(file, 'utf8')) as Results, out);
  console.log(`wrote ${written.join(', ')} in ${out}`);
}
