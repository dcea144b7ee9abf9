/**
 * The C load generator (bench/echo/loadgen.c, shipped in the package): compiled once per source
 * version into the cache folder, named by the source's hash, so an upgrade recompiles and two
 * versions side by side never share a binary. It dials IPv4 only, speaks plain ws:// and no
 * extensions; the caller falls back on the JavaScript generator for the rest.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../cache.js';
import type { BenchOptions } from './options.js';
import { SATURATED, type Figures } from './result.js';

/** Three folders up from src/cli/bench/ and from dist/cli/bench/ alike: the package root. */
export const LOADGEN_SOURCE = fileURLToPath(new URL('../../../bench/echo/loadgen.c', import.meta.url));

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { stdio: 'ignore' }).status === 0;
}

export function findCompiler(): string | null {
  const candidates = [process.env.CC, 'cc', 'gcc', 'clang'].filter((c): c is string => !!c);
  return candidates.find(onPath) ?? null;
}

/** The compiled generator's path, compiling it first if this source version has no binary yet. */
export function compiledLoadgen(compiler: string): { path: string; compiled: boolean } {
  const source = readFileSync(LOADGEN_SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = cacheDir('loadgen');
  const path = join(dir, `loadgen-${hash}`);
  if (existsSync(path)) return { path, compiled: false };
  // Compiled beside its final name and renamed: two runs compiling at once never see half a binary.
  const partial = `${path}.${process.pid}.tmp`;
  const result = spawnSync(compiler, ['-O2', '-o', partial, LOADGEN_SOURCE], { encoding: 'utf8' });
  if (result.status !== 0) {
    rmSync(partial, { force: true });
    throw new Error(`${compiler} could not compile ${LOADGEN_SOURCE}: ${(result.stderr || result.error?.message || '').trim().split('\n')[0]}`);
  }
  renameSync(partial, path);
  return { path, compiled: true };
}

export interface CTarget {
  /** Numeric IPv4 address of the host. */
  address: string;
  url: URL;
}

interface CJson {
  seconds: number;
  count: number;
  per_s: number;
  mb_per_s: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
  loadgen_cpu: number;
}

export function runC(binary: string, target: CTarget, options: BenchOptions, onProgress: (seconds: number, count: number) => void): Promise<Figures> {
  const { url } = target;
  const args = [
    '--mode', options.mode,
    '--host', target.address,
    '--port', url.port || '80',
    '--host-header', url.host,
    '--path', `${url.pathname}${url.search}`,
    '--conns', String(options.conns),
    '--depth', String(options.depth),
    '--size', String(options.size),
    '--warmup', String(options.warmup),
    '--duration', String(options.duration),
    '--parallel', String(options.parallel),
    '--text', options.binary ? '0' : '1',
  ];
  const [command, argv] = options.pin === null ? [binary, args] : ['taskset', ['-c', String(options.pin), binary, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const problems: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    createInterface({ input: child.stderr }).on('line', (line) => {
      const progress = /^progress (\S+) (\d+)$/.exec(line);
      if (progress) onProgress(Number(progress[1]), Number(progress[2]));
      else problems.push(line.replace(/^loadgen: /, ''));
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`the load generator stopped: ${problems.join('; ') || `exit status ${code}`}`));
      try {
        const r = JSON.parse(out) as CJson;
        resolve({
          seconds: r.seconds,
          count: r.count,
          per_s: r.per_s,
          mb_per_s: r.mb_per_s,
          latency_us: { p50: r.p50_us, p90: r.p90_us, p99: r.p99_us, max: r.max_us },
          errors: 0,
          loadgen_cpu: r.loadgen_cpu,
          lower_bound: r.loadgen_cpu >= SATURATED,
        });
      } catch {
        reject(new Error(`the load generator printed no result: ${out.slice(0, 200)}`));
      }
    });
  });
}
