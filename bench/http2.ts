/**
 * WebSockets over HTTP/2 (RFC 8441) against WebSockets over HTTP/1.1, same server, same run:
 * `npm run build && node --import tsx bench/http2.ts [--reps 3] [--duration 3]`.
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

const SCENARIOS: Scenario[] = [
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

async function load(port: number, mode: 'h1' | 'h2', what: string, certDir: string): Promise<void> {
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

function pinned(core: number, args: string[]): ChildProcess {
  return spawn('taskset', ['-c', String(core), process.execPath, '--expose-gc', '--import', 'tsx', join(here, 'http2.ts'), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
}

function line(child: ChildProcess, prefix: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk;
      const found = text.split('\n').find((l) => l === prefix || l.startsWith(prefix + ' '));
      if (found === undefined) return;
      child.stdout!.off('data', onData);
      resolve(found.slice(prefix.length + 1).split(' '));
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited ${code} before "${prefix}": ${text}`)));
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main(): Promise<void> {
  const reps = option('reps', 3);
  const duration = option('duration', 3);
  const certDir = mkdtempSync(join(tmpdir(), 'rfc6455-bench-h2-'));
  spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { cwd: certDir, stdio: 'ignore' });
  const srv = pinned(0, ['server', certDir]);
  process.once('exit', () => srv.kill());
  const [port] = await line(srv, 'port');
  const mem = async () => {
    srv.stdin!.write('mem\n');
    return (await line(srv, 'mem')).map(Number);
  };
  const results: Record<string, { h1: number[]; h2: number[] }> = {};
  const record = (name: string, mode: 'h1' | 'h2', value: number) => ((results[name] ??= { h1: [], h2: [] })[mode].push(value));
  for (let rep = 0; rep < reps; rep++) {
    for (const s of SCENARIOS) {
      for (const mode of ['h1', 'h2'] as const) {
        const child = pinned(1, ['load', port, mode, `${s.connections},${s.depth},${s.size},${duration}`, certDir]);
        const [rate] = await line(child, 'rate');
        record(`${s.name}: messages/s`, mode, Number(rate));
        console.error(`  ${mode} ${s.name}: ${rate} messages/s`);
        await new Promise((r) => child.once('exit', r));
      }
    }
    for (const mode of ['h1', 'h2'] as const) {
      await new Promise((r) => setTimeout(r, 300));
      const [before] = await mem();
      const child = pinned(1, ['load', port, mode, 'open', certDir]);
      const [, rate] = await line(child, 'opened');
      console.error(`  ${mode}: 1,000 open, ${rate} handshakes/s`);
      const [after, , open] = await mem();
      record('1,000 WebSockets: handshakes/s', mode, Number(rate));
      record('1,000 WebSockets: server memory per WebSocket (bytes)', mode, (after - before) / Number(open));
      child.stdin!.write('go\n');
      await line(child, 'closed');
      child.kill();
    }
    console.error(`repetition ${rep + 1}/${reps} done`);
  }
  srv.kill();
  console.log(`\nWebSockets over HTTP/2 vs HTTP/1.1 (both TLS), medians of ${reps}; server on core 0, load on core 1\n`);
  console.log('| measure | HTTP/1.1 | HTTP/2 | h2 / h1 |');
  console.log('|---|---:|---:|---:|');
  for (const [name, { h1, h2 }] of Object.entries(results)) {
    const a = median(h1);
    const b = median(h2);
    console.log(`| ${name} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(b / a).toFixed(2)} |`);
  }
}

const [role, ...rest] = argv;
if (role === 'server') void server(rest[0]);
else if (role === 'load') void load(Number(rest[0]), rest[1] as 'h1' | 'h2', rest[2], rest[3]);
else
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
