/**
 * Cross-server fan-out through Redis: messages published on server A reach 1,000 subscribers
 * connected to server B. Reports deliveries per second and the latency from `publish()` on A to
 * receipt by a subscriber on B (p50, p99, max), at a steady rate and flat out.
 *
 *   npm run bench:fanout                         # 1,000 subscribers, 64-byte messages
 *   npm run bench:fanout -- --subscribers 5000 --size 1024 --rate 10,50 --seconds 5 --burst 3000
 *
 * Processes: a redis-server of its own (persistence off), server A and server B (each a
 * WebSocketServer with a RedisBroker over node-redis), and 4 client processes holding the
 * subscribers (so that receiving is not the bottleneck). Publish times are stamped on A with
 * process.hrtime (CLOCK_MONOTONIC, the same clock in every process of the machine).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import { connect, WebSocketServer, type WebSocket } from '../src/index.js';
import { RedisBroker } from '../src/redis/index.js';
import { freePort, nextMessage, waitOutput } from './procs.js';

const self = fileURLToPath(import.meta.url);
const role = process.argv[2];

if (role === 'server') await runServer();
else if (role === 'clients') await runClients();
else await main();

// --- server A or B ---------------------------------------------------------------------------

async function runServer(): Promise<void> {
  const { PORT, REDIS_URL } = process.env;
  const publisher = createClient({ url: REDIS_URL });
  const subscriber = publisher.duplicate();
  for (const c of [publisher, subscriber]) c.on('error', () => {});
  await Promise.all([publisher.connect(), subscriber.connect()]);
  const broker = new RedisBroker({ publisher, subscriber, prefix: 'bench:' });
  const server = new WebSocketServer({ port: Number(PORT), host: '127.0.0.1', broker, perMessageDeflate: false });
  server.on('connection', (ws) => {
    ws.on('message', (data) => {
      const command = JSON.parse(data.toString());
      if (command.op === 'sub') {
        ws.subscribe('fanout');
        ws.send('{"ack":1}');
      } else if (command.op === 'run') {
        void publish(server, command).then((published) => ws.send(JSON.stringify({ done: published })));
      }
    });
  });
  server.on('listening', () => process.stdout.write('LISTENING\n'));
}

/** Publishes `count` messages at `rate` a second (0: as fast as Redis takes them, in batches). */
async function publish(server: WebSocketServer, { count, rate, size }: { count: number; rate: number; size: number }): Promise<number> {
  const payload = Buffer.alloc(size, 0x61);
  const stamp = () => {
    const message = Buffer.from(payload);
    message.writeBigInt64BE(process.hrtime.bigint(), 0);
    server.publish('fanout', message);
  };
  if (rate > 0) {
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      stamp();
    }
  } else {
    for (let i = 0; i < count; i += 20) {
      for (let j = i; j < Math.min(count, i + 20); j++) stamp();
      await new Promise((r) => setImmediate(r));
    }
  }
  return count;
}

// --- a process of subscribers ----------------------------------------------------------------

async function runClients(): Promise<void> {
  const url = process.env.URL!;
  const n = Number(process.env.N);
  const sockets: WebSocket[] = [];
  let latencies = new Float64Array(0);
  let received = 0;
  let expected = 0;
  let firstAt = 0n;
  let lastAt = 0n;
  const report = () => {
    process.send!({ type: 'result', received, latencies: Array.from(latencies.subarray(0, Math.min(received, latencies.length))), firstAt: String(firstAt), lastAt: String(lastAt) });
  };
  for (let i = 0; i < n; i++) {
    const ws = await connect(url, { perMessageDeflate: false });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return;
      const now = process.hrtime.bigint();
      if (received === 0) firstAt = now;
      lastAt = now;
      if (received < latencies.length) latencies[received] = Number(now - data.readBigInt64BE(0)) / 1e6;
      received++;
      if (received === expected) report();
    });
    await new Promise<void>((resolve) => {
      ws.once('message', () => resolve());
      ws.send('{"op":"sub"}');
    });
    sockets.push(ws);
  }
  process.on('message', (message: { type: string; expected: number }) => {
    if (message.type === 'expect') {
      expected = message.expected;
      received = 0;
      latencies = new Float64Array(expected);
    } else if (message.type === 'report') {
      report();
    } else if (message.type === 'exit') {
      for (const ws of sockets) ws.terminate();
      process.exit(0);
    }
  });
  process.send!({ type: 'ready' });
}

// --- the driver --------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      subscribers: { type: 'string', default: '1000' },
      size: { type: 'string', default: '64' },
      rate: { type: 'string', default: '20,100' },
      seconds: { type: 'string', default: '10' },
      burst: { type: 'string', default: '2000' },
      processes: { type: 'string', default: String(Math.min(4, Math.max(1, cpus().length - 3))) },
    },
  });
  const subscribers = Number(values.subscribers);
  const size = Math.max(8, Number(values.size));
  const rates = values.rate.split(',').map(Number);
  const burst = Number(values.burst);
  const processes = Number(values.processes);
  const children: ChildProcess[] = [];
  const cleanup = () => {
    for (const child of children) child.kill('SIGKILL');
  };
  process.on('exit', cleanup);
  process.on('SIGINT', () => process.exit(130));

  const redisPort = await freePort();
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  redis.on('error', () => {
    console.error('redis-server not found (apt-get install redis-server)');
    process.exit(1);
  });
  children.push(redis);
  await waitOutput(redis, /Ready to accept connections/);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const versions = (await run('redis-server', ['--version'])).match(/v=(\S+)/)?.[1] ?? '?';

  const startServer = async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', self, 'server'], { env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl }, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await waitOutput(child, /LISTENING/);
    return `ws://127.0.0.1:${port}`;
  };
  const [urlA, urlB] = await Promise.all([startServer(), startServer()]);

  console.log(`fan-out through Redis ${versions}: publish on A → ${subscribers} subscribers on B, ${size}-byte binary messages, subscribers in ${processes} processes`);
  const per = Array.from({ length: processes }, (_, i) => Math.floor(subscribers / processes) + (i < subscribers % processes ? 1 : 0));
  const clients = per.map((n) => {
    const child = spawn(process.execPath, ['--import', 'tsx', self, 'clients'], { env: { ...process.env, URL: urlB, N: String(n) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    return { child, n };
  });
  await Promise.all(clients.map(({ child }) => nextMessage(child, 'ready')));
  const control = await connect(urlA, { perMessageDeflate: false });

  const phase = async (label: string, count: number, phaseRate: number) => {
    for (const { child, n } of clients) child.send({ type: 'expect', expected: n * count });
    const results = clients.map(({ child }) => nextMessage<Result>(child, 'result', 30_000 + (count / Math.max(phaseRate, 1)) * 1000));
    const t0 = process.hrtime.bigint();
    control.send(JSON.stringify({ op: 'run', count, rate: phaseRate, size }));
    const settled = await Promise.allSettled(results);
    const done = settled.map((s) => (s.status === 'fulfilled' ? s.value : null));
    if (done.some((d) => d === null)) for (const { child } of clients) child.send({ type: 'report' });
    const final = await Promise.all(done.map((d, i) => d ?? nextMessage<Result>(clients[i].child, 'result', 5000)));
    const received = final.reduce((sum, r) => sum + r.received, 0);
    const lastAt = final.reduce((max, r) => (BigInt(r.lastAt) > max ? BigInt(r.lastAt) : max), 0n);
    const seconds = Number(lastAt - t0) / 1e9;
    const latencies = Float64Array.from(final.flatMap((r) => r.latencies)).sort();
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
    const row = {
      label,
      published: count,
      deliveries: received,
      expected: count * subscribers,
      perSecond: Math.round(received / seconds),
      p50: pct(50),
      p99: pct(99),
      max: latencies[latencies.length - 1],
    };
    console.log(
      `${label.padEnd(28)} ${String(row.deliveries).padStart(9)}/${row.expected} deliveries in ${seconds.toFixed(2)} s` +
        ` = ${row.perSecond.toLocaleString('en-US')}/s   latency p50 ${row.p50.toFixed(2)} ms  p99 ${row.p99.toFixed(2)} ms  max ${row.max.toFixed(2)} ms`,
    );
    return row;
  };

  await phase('warm-up', 200, 0);
  const rows = [];
  for (const rate of rates) rows.push(await phase(`steady ${rate} msg/s`, Math.round(rate * Number(values.seconds)), rate));
  rows.push(await phase(`flat out (${burst} messages)`, burst, 0));
  console.log('\n| run | messages published on A | deliveries on B | deliveries/s | p50 | p99 | max |\n|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.label} | ${r.published} | ${r.deliveries.toLocaleString('en-US')} | ${r.perSecond.toLocaleString('en-US')} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${r.max.toFixed(2)} ms |`);
  }
  for (const { child } of clients) child.send({ type: 'exit' });
  control.terminate();
  cleanup();
  process.exit(0);
}

interface Result {
  type: 'result';
  received: number;
  latencies: number[];
  firstAt: string;
  lastAt: string;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(command, args);
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('close', () => resolve(out));
  });
}
