/** `rfc6455 bench` options, checked: a bad figure is one line, before anything connects. */
import { parseArgs } from 'node:util';
import { UsageError, parseEndpoint } from '../probe.js';
import type { Mode } from './result.js';

export interface BenchOptions {
  urls: URL[];
  compare: boolean;
  mode: Mode;
  conns: number;
  depth: number;
  size: number;
  duration: number;
  warmup: number;
  reps: number;
  parallel: number;
  binary: boolean;
  deflate: boolean;
  generator: 'auto' | 'c' | 'js';
  json: boolean;
  insecure: boolean;
  pin: number | null;
}

export const BENCH_USAGE = `Usage: rfc6455 bench <ws://host:port/path> [options]
       rfc6455 bench --compare URL1 URL2 ... [options]

Drives a WebSocket endpoint and prints messages/s, MB/s, latency p50/p90/p99/max, errors and the
load generator's own CPU share (a figure is flagged as a lower bound when the generator kept its
core busy). The C load generator is compiled once into ~/.cache/rfc6455 when a C compiler (cc,
gcc or clang, or $CC) is there; otherwise, and for wss:// and --deflate, one written with
rfc6455's own client runs. The output says which.

Modes (--mode):
  echo       (default) the server sends back every message; --conns connections each keep
             --depth messages in flight; latency is the round trip
  churn      --parallel handshakes at a time, each connection dropped once open; handshakes/s,
             latency is the handshake
  broadcast  the server sends every message it receives to every connection (a chat server);
             the first of --conns connections sends, the others count deliveries; --depth
             broadcasts in flight; deliveries/s, latency is send to last delivery of a fan-out

  --conns N       connections (default 50; churn: unused)
  --depth N       messages in flight per connection (echo) or broadcasts in flight (default 1)
  --size BYTES    payload size (default 32)
  --binary        binary messages (default: text)
  --deflate       offer permessage-deflate (JavaScript generator)
  --duration S    measured seconds (default 5), after --warmup S (default 1)
  --parallel N    churn: handshakes at a time (default 32)
  --compare       every URL given is run in turn, --reps times (default 3), and the medians
                  are printed with ratios to the first
  --reps N        repetitions per URL with --compare
  --generator c|js  force a load generator (default: C when it can)
  --pin CORE      pin the load generator to this CPU core (taskset); pin the server elsewhere
  --insecure      wss://: do not check the server's certificate
  --json          print one JSON object on stdout instead of the text report

Exit status: 0 measured, 1 the endpoint could not be reached, refused the handshake, failed during
the run or sent nothing back, 2 bad usage.`;

function count(values: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const text = values[name] as string | undefined;
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name}: ${JSON.stringify(text)} must be a number from ${min} to ${max}`);
  return n;
}

export function parseBenchArgs(args: string[]): BenchOptions | 'help' {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      mode: { type: 'string', default: 'echo' },
      conns: { type: 'string' },
      depth: { type: 'string' },
      size: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      reps: { type: 'string' },
      parallel: { type: 'string' },
      binary: { type: 'boolean', default: false },
      deflate: { type: 'boolean', default: false },
      compare: { type: 'boolean', default: false },
      generator: { type: 'string', default: 'auto' },
      json: { type: 'boolean', default: false },
      insecure: { type: 'boolean', default: false },
      pin: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const mode = values.mode as Mode;
  if (!['echo', 'churn', 'broadcast'].includes(mode)) throw new UsageError(`--mode: ${JSON.stringify(values.mode)} must be echo, churn or broadcast`);
  const generator = values.generator as BenchOptions['generator'];
  if (!['auto', 'c', 'js'].includes(generator)) throw new UsageError(`--generator: ${JSON.stringify(values.generator)} must be c or js`);
  if (values.compare ? positionals.length < 2 : positionals.length !== 1) {
    throw new UsageError(values.compare ? '--compare needs two URLs or more' : 'bench needs one URL (ws://host:port/path), or --compare URL1 URL2 …; see --help');
  }
  const conns = count(values, 'conns', mode === 'broadcast' ? 100 : 50, mode === 'broadcast' ? 2 : 1, 100_000);
  return {
    urls: positionals.map(parseEndpoint),
    compare: values.compare!,
    mode,
    conns,
    depth: count(values, 'depth', 1, 1, 10_000),
    size: count(values, 'size', 32, 0, 256 * 1024 * 1024),
    duration: count(values, 'duration', 5, 0.1, 86_400),
    warmup: count(values, 'warmup', 1, 0, 3600),
    reps: count(values, 'reps', values.compare ? 3 : 1, 1, 1000),
    parallel: count(values, 'parallel', 32, 1, 10_000),
    binary: values.binary!,
    deflate: values.deflate!,
    generator,
    json: values.json!,
    insecure: values.insecure!,
    pin: values.pin === undefined ? null : count(values, 'pin', 0, 0, 4096),
  };
}
