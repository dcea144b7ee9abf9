/**
 * Load tests, run by hand (not part of `npm test`). The server runs in a child process so that its
 * memory is measured on its own; clients run here. Loopback only; every phase has a deadline.
 *
 *   ulimit -n 65536   # each side holds one descriptor per connection
 *   npx tsx test/production/load.ts idle --connections 10000
 *   npx tsx test/production/load.ts throughput --connections 100 --messages 1000000 --size 64
 *
 * Prints what held: connections open, messages/s, the server's RSS and heap before and after.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, WebSocketServer, type WebSocket } from '../../src/index.js';
import { delay, withDeadline } from '../helpers/wait.js';

interface Memory {
  rss: number;
  heapUsed: number;
  connections: number;
  messagesIn: number;
  messagesOut: number;
}

const MiB = 1024 * 1024;
const fmt = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

// ---- the server process -------------------------------------------------------------------

function runServer(): void {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', handshakeTimeout: 30_000, maxConnections: 100_000 });
  server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  server.on('listening', () => process.send!({ port: (server.address() as AddressInfo).port }));
  process.on('message', (message: { cmd: string; id?: number }) => {
    if (message.cmd === 'memory') {
      globalThis.gc?.();
      const { rss, heapUsed } = process.memoryUsage();
      const stats = server.stats();
      process.send!({ id: message.id, rss, heapUsed, connections: stats.connections, messagesIn: stats.messagesIn, messagesOut: stats.messagesOut });
    } else if (message.cmd === 'close') {
      server.close({ timeout: 5000 }).then(() => process.exit(0));
    }
  });
}

// ---- the driver ---------------------------------------------------------------------------

class ServerProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<ServerProcess> {
    const child = fork(fileURLToPath(import.meta.url), ['server'], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: 'inherit' });
    const [message] = (await withDeadline(once(child, 'message'), 30_000, 'server start')) as [{ port: number }];
    return new ServerProcess(child, message.port);
  }

  private requests = 0;

  /** The server's memory and counters now (replies are matched by id: samplers may overlap). */
  async memory(): Promise<Memory> {
    const id = ++this.requests;
    const reply = new Promise<Memory>((resolve) => {
      const onMessage = (message: Memory & { id: number }) => {
        if (message.id !== id) return;
        this.child.off('message', onMessage);
        resolve(message);
      };
      this.child.on('message', onMessage);
    });
    this.child.send({ cmd: 'memory', id });
    return withDeadline(reply, 10_000, 'memory report');
  }

  async stop(): Promise<void> {
    this.child.send({ cmd: 'close' });
    await withDeadline(once(this.child, 'exit'), 15_000, 'server exit').catch(() => this.child.kill('SIGKILL'));
  }
}

async function openMany(url: string, n: number, concurrency = 200): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  let next = 0;
  let failures = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      try {
        sockets.push(await connect(url, { perMessageDeflate: false, handshakeTimeout: 30_000 }));
      } catch (error) {
        if (++failures <= 3) console.error(`connect failed: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failures) console.error(`${failures} connections failed`);
  return sockets;
}

async function idle(connections: number, holdMs: number): Promise<void> {
  const server = await ServerProcess.start();
  const url = `ws://127.0.0.1:${server.port}`;
  const before = await server.memory();
  const started = performance.now();
  const sockets = await withDeadline(openMany(url, connections), 120_000, `${connections} connections`);
  const openMs = performance.now() - started;
  const afterOpen = await server.memory();
  await delay(holdMs);
  const afterHold = await server.memory();
  const stillOpen = sockets.filter((ws) => ws.readyState === ws.OPEN).length;
  // Every connection still works: one round trip each.
  const echoed = await withDeadline(
    Promise.all(sockets.map((ws) => new Promise<void>((resolve) => {
      ws.once('message', () => resolve());
      ws.send('x');
    }))),
    60_000,
    'one echo per connection',
  ).then(() => sockets.length, () => -1);
  const closing = performance.now();
  await withDeadline(Promise.all(sockets.map((ws) => new Promise((resolve) => {
    ws.once('close', resolve);
    ws.close(1000);
  }))), 60_000, 'closing');
  const closeMs = performance.now() - closing;
  await delay(500);
  const afterClose = await server.memory();
  await server.stop();

  console.log(`idle connections: ${connections} requested`);
  console.log(`  opened            ${sockets.length} in ${(openMs / 1000).toFixed(1)} s (${Math.round(sockets.length / (openMs / 1000))}/s)`);
  console.log(`  server sees       ${afterOpen.connections} after open, ${afterHold.connections} after ${holdMs} ms idle; client sees ${stillOpen} open`);
  console.log(`  echo on each      ${echoed === -1 ? 'FAILED' : `${echoed} ok`}`);
  console.log(`  closed all        in ${(closeMs / 1000).toFixed(1)} s; server sees ${afterClose.connections} left`);
  console.log(`  server RSS        ${fmt(before.rss)} before → ${fmt(afterOpen.rss)} open → ${fmt(afterHold.rss)} held → ${fmt(afterClose.rss)} after close`);
  console.log(`  server heap used  ${fmt(before.heapUsed)} before → ${fmt(afterHold.heapUsed)} held → ${fmt(afterClose.heapUsed)} after close`);
  console.log(`  per connection    ${((afterHold.rss - before.rss) / Math.max(1, sockets.length) / 1024).toFixed(1)} KiB RSS, ${((afterHold.heapUsed - before.heapUsed) / Math.max(1, sockets.length) / 1024).toFixed(1)} KiB heap`);
  if (sockets.length !== connections || afterHold.connections !== connections || echoed !== connections || afterClose.connections !== 0) process.exitCode = 1;
}

async function throughput(connections: number, messages: number, size: number, window: number): Promise<void> {
  const server = await ServerProcess.start();
  const url = `ws://127.0.0.1:${server.port}`;
  const before = await server.memory();
  const sockets = await withDeadline(openMany(url, connections, 50), 60_000, 'connections');
  const perConnection = Math.floor(messages / sockets.length);
  const payload = Buffer.alloc(size, 'a');
  const started = performance.now();
  let peakRss = 0;
  const sampler = setInterval(() => server.memory().then((m) => (peakRss = Math.max(peakRss, m.rss)), () => {}), 250);
  // Each connection keeps at most `window` messages in flight (sent and not yet echoed).
  const run = (ws: WebSocket) =>
    new Promise<void>((resolve) => {
      let sent = 0;
      let received = 0;
      const pump = () => {
        ws.cork(() => {
          while (sent < perConnection && sent - received < window) {
            ws.send(payload);
            sent++;
          }
        });
      };
      ws.on('message', () => {
        received++;
        if (received === perConnection) resolve();
        else if (sent - received <= window / 2) pump();
      });
      pump();
    });
  await withDeadline(Promise.all(sockets.map(run)), 300_000, `${messages} messages`);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const after = await server.memory();
  for (const ws of sockets) ws.close(1000);
  await server.stop();
  const total = perConnection * sockets.length;
  console.log(`throughput: ${sockets.length} connections × ${perConnection} messages of ${size} bytes, echoed (window ${window})`);
  console.log(`  server received   ${after.messagesIn} and sent ${after.messagesOut} messages in ${seconds.toFixed(2)} s`);
  console.log(`  rate              ${Math.round(total / seconds).toLocaleString('en-US')} messages/s each way (${Math.round((2 * total) / seconds).toLocaleString('en-US')} msg/s through the server)`);
  console.log(`  server RSS        ${fmt(before.rss)} before → peak ${fmt(peakRss)} → ${fmt(after.rss)} after`);
  if (after.messagesIn !== total || after.messagesOut !== total) process.exitCode = 1;
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      connections: { type: 'string' },
      messages: { type: 'string', default: '1000000' },
      size: { type: 'string', default: '64' },
      window: { type: 'string', default: '1000' },
      hold: { type: 'string', default: '3000' },
    },
  });
  const mode = positionals[0];
  if (mode === 'server') return runServer();
  if (mode === 'idle') return idle(Number(values.connections ?? 10_000), Number(values.hold));
  if (mode === 'throughput') return throughput(Number(values.connections ?? 100), Number(values.messages), Number(values.size), Number(values.window));
  console.log('Usage: tsx test/production/load.ts idle [--connections 10000] [--hold 3000]\n       tsx test/production/load.ts throughput [--connections 100] [--messages 1000000] [--size 64] [--window 1000]');
  process.exitCode = 2;
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
