/**
 * The peers we compare against, installed on demand into bench/.peers (git-ignored), never as
 * dependencies of the package: ws (+ bufferutil), Bun and Deno from npm. Every peer that cannot be
 * had is reported in one line and left out; the rest still run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Peers {
  ws: string | null;
  bufferutil: string | null;
  /** bufferutil's native addon loads (ws then uses it). */
  bufferutilNative: boolean;
  bun: { bin: string; version: string } | null;
  deno: { bin: string; version: string } | null;
  problems: string[];
}

const PACKAGES = ['ws', 'bufferutil', 'bun', 'deno'];

function version(dir: string, name: string): string | null {
  const file = path.join(dir, 'node_modules', name, 'package.json');
  if (!existsSync(file)) return null;
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

function runs(bin: string, args: string[]): string | null {
  if (!existsSync(bin)) return null;
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 20_000, env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } });
  return r.status === 0 ? r.stdout.trim() : null;
}

function npmInstall(dir: string, names: string[], log: (line: string) => void): boolean {
  log(`installing ${names.join(' ')} into ${path.relative(process.cwd(), dir)}/ …`);
  // The bun and deno packages carry their binaries in platform optionalDependencies, so they work
  // even where npm skips install scripts; --foreground-scripts only makes failures visible.
  const r = spawnSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--include=optional', ...names], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0) log(`npm install ${names.join(' ')} failed: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-2).join(' ')}`);
  return r.status === 0;
}

/** Binary of a peer: the npm wrapper's, else the platform package's. */
function findBinary(dir: string, candidates: string[], args: string[]): { bin: string; version: string } | null {
  for (const candidate of candidates) {
    const bin = path.join(dir, 'node_modules', candidate);
    const out = runs(bin, args);
    if (out) return { bin, version: out.split('\n')[0] };
  }
  return null;
}

export function ensurePeers(dir: string, log: (line: string) => void, install = true): Peers {
  mkdirSync(dir, { recursive: true });
  if (!existsSync(path.join(dir, 'package.json'))) writeFileSync(path.join(dir, 'package.json'), '{ "private": true }\n');
  const missing = PACKAGES.filter((name) => !version(dir, name));
  if (install && missing.length > 0 && !npmInstall(dir, missing, log)) {
    // One bad package must not cost the others.
    for (const name of missing) npmInstall(dir, [name], log);
  }
  const problems: string[] = [];
  const ws = version(dir, 'ws');
  if (!ws) problems.push('ws: not installable (npm install ws failed) — skipping ws and ws pure JS');
  const bufferutil = version(dir, 'bufferutil');
  let bufferutilNative = false;
  if (bufferutil) {
    try {
      const out = execFileSync(process.execPath, ['-e', `const b=require(${JSON.stringify(path.join(dir, 'node_modules/bufferutil'))});process.stdout.write(String(/native code/.test(b.mask.toString())))`], { encoding: 'utf8' });
      bufferutilNative = out === 'true';
    } catch {
      bufferutilNative = false;
    }
  }
  if (ws && !bufferutilNative) problems.push('bufferutil: native addon unavailable — "ws + bufferutil" runs ws pure JS');
  const bun = findBinary(dir, ['.bin/bun', 'bun/bin/bun.exe', '@oven/bun-linux-x64/bin/bun', '@oven/bun-linux-x64-baseline/bin/bun', '@oven/bun-linux-aarch64/bin/bun'], ['--version']);
  if (!bun) problems.push('bun: no runnable binary from the npm package — skipping Bun');
  const deno = findBinary(dir, ['.bin/deno', 'deno/deno', '@deno/linux-x64-glibc/deno', '@deno/linux-arm64-glibc/deno'], ['--version']);
  if (!deno) problems.push('deno: no runnable binary from the npm package — skipping Deno');
  if (deno) deno.version = deno.version.replace(/^deno\s+/, '').split(' ')[0];
  return { ws, bufferutil, bufferutilNative, bun, deno, problems };
}
