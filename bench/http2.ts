/**
 * WebSockets over HTTP/2 (RFC 8441) against WebSockets over HTTP/1.1, same server, same run, and
 * HTTP/1.1 again against a server with the fast path off (RFC6455_FAST_PATH=0: TLS sockets on the
 * stream layer instead of their TLSWrap handle driven directly):
 * `npm run build && node --import tsx bench/http2.ts [--reps 3] [--duration 3] [--only echo|open]`.
 *
 * One server process (the standalone TLS WebSocketServer from dist/, both protocols on its port)
 * pinned to core 0 with taskset, one load process (our client from dist/, `http2: true` or not)
 * pinned to core 1. Both protocols go over TLS, so the difference is the framing and the
 * multiplexing. Echo scenarios are closed loops (each echo sends the next message); then the cost
 * of 1,000 WebSockets on one HTTP/2 connection against 1,000 TLS connections: the server's memory
 * for them (after GC) and handshakes per second. Medians of the repetitions, and h2/h1 ratios.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './procs.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = new URL('../dist/index.js', import.meta.url).href;
const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};

interface Scenario {
  name: string;
  connections: number;
  depth: number;
  size: number;
}

const SCENARIOS: Scenario[] = process.env.ONLY16 ? [{ name: '10 × 4 × 16 KiB', connections: 10, depth: 4, size: 16 * 1024 }] : [
  { name: '100 × 1 × 32 B', connections: 100, depth: 1, size: 32 },
  { name: '100 × 16 × 32 B (pipelined)', connections: 100, depth: 16, size: 32 },
  { name: '10 × 4 × 16 KiB', connections: 10, depth: 4, size: 16 * 1024 },
];

// ---- roles: the server and the load generator run this file too ----

async function server(certDir: string): Promise<void> {
  const { WebSocketServer } = (await import(dist)) as typeof import('../src/index.js');
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    key: readFileSync(join(certDir, 'k.pem')),
    cert: readFileSync(join(certDir, 'c.pem')),
    maxConnections: 100_000,
  });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary })));
  wss.on('listening', () => console.log(`port ${(wss.address() as { port: number }).port}`));
  // Exit on a signal, so that `node --cpu-prof` gets to write its profile.
  process.on('SIGINT', () => process.exit(0));
  // "mem" on stdin: the heap and RSS after a full GC, in bytes.
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (line: string) => {
    if (!line.startsWith('mem')) return;
    globalThis.gc?.();
    globalThis.gc?.();
    const { heapUsed, rss, external, arrayBuffers } = process.memoryUsage();
    console.log(`mem ${heapUsed + external + arrayBuffers} ${rss} ${wss.clients.size}`);
  });
}

type Mode = 'h1' | 'h1-stream' | 'h2';

async function load(port: number, mode: Mode, what: string, certDir: string): Promise<void> {
  const { connect } = (await import(dist)) as typeof import('../src/index.js');
  const ca = readFileSync(join(certDir, 'c.pem'));
  const url = `wss://localhost:${port}/`;
  const options = { ca, http2: mode === 'h2', perMessageDeflate: false };
  if (what === 'open') {
    // 1,000 WebSockets, 50 handshakes at a time; then the server measures, then they close.
    const n = option('connections', 1000);
    const started = process.hrtime.bigint();
    const sockets: Awaited<ReturnType<typeof connect>>[] = [];
    for (let i = 0; i < n; i += 50) {
      sockets.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => connect(url, options)))));
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`opened ${n} ${(n / seconds).toFixed(0)}`);
    await new Promise((resolve) => process.stdin.once('data', resolve));
    let open = sockets.length;
    const report = setInterval(() => console.error(`  ${open} still closing`), 5000);
    await Promise.all(sockets.map((ws) => new Promise((resolve) => (ws.once('close', () => resolve(open--)), ws.close()))));
    clearInterval(report);
    return void process.stdout.write('closed\n', () => process.exit(0));
  }
  const [connections, depth, size, seconds] = what.split(',').map(Number);
  const payload = Buffer.alloc(size, 0x61);
  const sockets = await Promise.all(Array.from({ length: connections }, () => connect(url, options)));
  let count = 0;
  let counting = false;
  for (const ws of sockets) {
    ws.on('message', () => {
      if (counting) count++;
      ws.send(payload);
    });
  }
  for (const ws of sockets) for (let i = 0; i < depth; i++) ws.send(payload);
  await new Promise((r) => setTimeout(r, 500)); // warm-up
  counting = true;
  const started = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  counting = false;
  for (const ws of sockets) ws.terminate();
  // A pipe's write is asynchronous: exit once the line is out.
  process.stdout.write(`rate ${(count / elapsed).toFixed(0)}\n`, () => process.exit(0));
}

// ---- the orchestration ----

const MODES: readonly Mode[] = ['h1', 'h1-stream', 'h2'];

function pinned(core: number, args: string[], fastPath = true): ChildProcess {
  return spawn('taskset', ['-c', String(core), process.execPath, '--expose-gc', '--import', 'tsx', join(here, 'http2.ts'), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: fastPath ? process.env : { ...process.env, RFC6455_FAST_PATH: '0' },
  });
}

function line(child: ChildProcess, prefix: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onExit = (code: number | null) => reject(new Error(`exited ${code} before "${prefix}": ${text}`));
    const onData = (chunk: Buffer) => {
      text += chunk;
      const found = text.split('\n').find((l) => l === prefix || l.startsWith(prefix + ' '));
      if (found === undefined) return;
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      resolve(found.slice(prefix.length + 1).split(' '));
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}


async function main(): Promise<void> {
  const reps = option('reps', 3);
  const duration = option('duration', 3);
  const certDir = mkdtempSync(join(tmpdir(), 'rfc6455-bench-h2-'));
  spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { cwd: certDir, stdio: 'ignore' });
  const srv = pinned(0, ['server', certDir]);
  const streamSrv = pinned(0, ['server', certDir], false);
  process.once('exit', () => (srv.kill(), streamSrv.kill()));
  const [port] = await line(srv, 'port');
  const [streamPort] = await line(streamSrv, 'port');
  const portOf = (mode: Mode) => (mode === 'h1-stream' ? streamPort : port);
  const results: Record<string, Record<Mode, number[]>> = {};
  const record = (name: string, mode: Mode, value: number) => ((results[name] ??= { h1: [], 'h1-stream': [], h2: [] })[mode].push(value));
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
  for (let rep = 0; rep < reps; rep++) {
    for (const s of only === 'open' ? [] : SCENARIOS) {
      for (const mode of MODES) {
        const child = pinned(1, ['load', portOf(mode), mode, `${s.connections},${s.depth},${s.size},${duration}`, certDir]);
        const [rate] = await line(child, 'rate');
        record(`${s.name}: messages/s`, mode, Number(rate));
        console.error(`  ${mode} ${s.name}: ${rate} messages/s`);
        await new Promise((r) => child.once('exit', r));
      }
    }
    for (const mode of only === 'echo' ? [] : MODES) {
      // A fresh server for each: its memory before any connection is the baseline.
      const fresh = pinned(0, ['server', certDir], mode !== 'h1-stream');
      const [freshPort] = await line(fresh, 'port');
      const measure = async () => {
        fresh.stdin!.write('mem\n');
        return (await line(fresh, 'mem')).map(Number);
      };
      const [before] = await measure();
      const child = pinned(1, ['load', freshPort, mode, 'open', certDir]);
      const [n, rate] = await line(child, 'opened');
      const [open, , count] = await measure();
      child.stdin!.write('go\n');
      await line(child, 'closed');
      fresh.kill();
      if (count !== Number(n)) throw new Error(`the server had ${count} WebSockets, not ${n}`);
      const each = (open - before) / Number(n);
      console.error(`  ${mode}: 1,000 open, ${rate} handshakes/s, ${each.toFixed(0)} bytes each`);
      record('1,000 WebSockets: handshakes/s', mode, Number(rate));
      record('1,000 WebSockets: server memory per WebSocket (bytes, heap + external after GC)', mode, each);
    }
    console.error(`repetition ${rep + 1}/${reps} done`);
  }
  srv.kill();
  streamSrv.kill();
  console.log(`\nWebSockets over HTTP/2 vs HTTP/1.1 (all TLS), medians of ${reps}; server on core 0, load on core 1\n`);
  console.log('| measure | HTTP/1.1 | HTTP/1.1, fast path off | HTTP/2 | h2 / h1 | h1 fast path on / off |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name, values] of Object.entries(results)) {
    const [a, off, b] = MODES.map((mode) => median(values[mode]));
    console.log(`| ${name} | ${a.toFixed(0)} | ${off.toFixed(0)} | ${b.toFixed(0)} | ${(b / a).toFixed(2)} | ${(a / off).toFixed(2)} |`);
  }
}

const [role, ...rest] = argv;
if (role === 'server') void server(rest[0]);
else if (role === 'load') void load(Number(rest[0]), rest[1] as Mode, rest[2], rest[3]);
else
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
