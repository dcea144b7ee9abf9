/**
 * Resumable topics: what history costs. Publish throughput and delivery latency to subscribers
 * speaking rfc6455.topics.v1, history off vs on, in the same run, with LocalBroker and with
 * RedisBroker; then the reconnect storm (bench/topics-storm.ts).
 *
 *   npm run build && npm run bench:topics                  # both brokers, then the storm
 *   npm run bench:topics -- --broker local --repeat 7 --no-storm
 *   npm run bench:topics -- --subscribers 100 --messages 20000 --size 64 --storm 10000 --missed 100
 *
 * Processes: the server (pinned to core 0), the subscribers' process (core 1), redis-server
 * (core 1, beside the subscribers: the machine has two). History off means the same topic without
 * the `history` option: protocol clients get the protocol's message frame, without positions.
 * A run publishes flat out on the server (batches of 100 per turn of the event loop) and ends when
 * every subscriber has every message; runs alternate off/on, figures are medians of the repeats,
 * and the ratios are on/off: of throughput, and of the server's capacity (the inverse of its CPU
 * time per message, process.cpuUsage() over the run: less moved by other load on the machine).
 */
import { type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import type { WebSocket } from '../src/index.js';
import type * as Lib from '../src/index.js';
import type * as RedisLib from '../src/redis/index.js';
import { freePort, median, nextMessage, percentile, pinned, startRedis, waitOutput } from './procs.js';
import { storm } from './topics-storm.js';

const self = fileURLToPath(import.meta.url);
// What the package ships (dist/, built by `npm run build` first), not the sources through tsx;
// RFC6455_DIST=other/dist measures another build (an earlier commit's) the same way.
const dist = process.env.RFC6455_DIST ? pathToFileURL(`${process.env.RFC6455_DIST}/`).href : new URL('../dist/', import.meta.url).href;
const { connect, PublishError, TOPICS_PROTOCOL, WebSocketServer } = (await import(`${dist}index.js`)) as typeof Lib;
const { RedisBroker } = (await import(`${dist}redis/index.js`)) as typeof RedisLib;
const role = process.argv[2];
const TOPIC = 'bench';

if (role === 'server') await runServer();
else if (role === 'clients') await runClients();
else await main();

// --- the server -----------------------------------------------------------------------------------

async function runServer(): Promise<void> {
  const { PORT, BROKER, HISTORY, REDIS_URL } = process.env;
  let broker: RedisLib.RedisBroker | undefined;
  if (BROKER === 'redis') {
    const publisher = createClient({ url: REDIS_URL });
    const subscriber = publisher.duplicate();
    for (const c of [publisher, subscriber]) c.on('error', () => {});
    await Promise.all([publisher.connect(), subscriber.connect()]);
    broker = new RedisBroker({ publisher, subscriber, prefix: `bench${HISTORY}:` });
  }
  const server = new WebSocketServer({
    port: Number(PORT),
    host: '127.0.0.1',
    broker,
    perMessageDeflate: false,
    history: HISTORY === 'on' ? { size: Number(process.env.HISTORY_SIZE ?? 10_000) } : undefined,
  });
  server.on('connection', (ws) => {
    if (ws.protocol === TOPICS_PROTOCOL) return;
    // The driver's control connection.
    ws.on('message', (data) => {
      const { count, size } = JSON.parse(data.toString());
      const cpu = process.cpuUsage();
      void publish(server, count, size).then(() => ws.send(JSON.stringify({ cpu: process.cpuUsage(cpu) })));
    });
  });
  server.on('listening', () => process.stdout.write('LISTENING\n'));
  process.on('SIGTERM', () => process.exit(0));
}

/** Flat out: batches of 100, each message stamped with process.hrtime (one clock for all processes). */
async function publish(server: Lib.WebSocketServer, count: number, size: number): Promise<void> {
  const pad = 'a'.repeat(Math.max(0, size - 20));
  for (let i = 0; i < count; i += 100) {
    for (let j = i; j < Math.min(count, i + 100); j++) {
      try {
        server.publish(TOPIC, `${process.hrtime.bigint()} ${pad}`);
      } catch (error) {
        if (!(error instanceof PublishError)) throw error;
      }
    }
    await new Promise((r) => setImmediate(r));
  }
}

// --- the subscribers ----------------------------------------------------------------------------

async function runClients(): Promise<void> {
  const url = process.env.URL!;
  const n = Number(process.env.N);
  const sockets: WebSocket[] = [];
  let latencies: number[] = [];
  let received = 0;
  let expected = Infinity;
  let lastAt = 0n;
  const report = () => process.send!({ type: 'result', received, latencies, lastAt: String(lastAt) });
  for (let i = 0; i < n; i++) {
    const ws = await connect(url, { perMessageDeflate: false, protocols: [TOPICS_PROTOCOL] });
    const sampler = i === 0;
    await new Promise<void>((resolve) => {
      ws.once('message', () => resolve());
      ws.send(JSON.stringify({ $topics: 'subscribe', topic: TOPIC }));
    });
    ws.on('message', (data) => {
      const now = process.hrtime.bigint();
      // One subscriber parses every message for the latency; the others only count.
      if (sampler) {
        const text = JSON.parse(data.toString()).data as string;
        latencies.push(Number(now - BigInt(text.slice(0, text.indexOf(' ')))) / 1e6);
      }
      lastAt = now;
      if (++received === expected) report();
    });
    sockets.push(ws);
  }
  process.on('message', (message: { type: string; expected: number }) => {
    if (message.type === 'expect') {
      expected = message.expected;
      received = 0;
      latencies = [];
    } else if (message.type === 'exit') {
      for (const ws of sockets) ws.terminate();
      process.exit(0);
    }
  });
  process.send!({ type: 'ready' });
}

// --- the driver ---------------------------------------------------------------------------------

interface Side {
  server: ChildProcess;
  clients: ChildProcess;
  control: WebSocket;
}

interface Run {
  perSecond: number;
  p50: number;
  p99: number;
  cpuPerMessage: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      broker: { type: 'string', default: 'local,redis' },
      subscribers: { type: 'string', default: '100' },
      messages: { type: 'string', default: '20000' },
      size: { type: 'string', default: '64' },
      repeat: { type: 'string', default: '5' },
      storm: { type: 'string', default: '10000' },
      missed: { type: 'string', default: '100' },
      'no-storm': { type: 'boolean', default: false },
      // Write a V8 CPU profile of each server to this directory (summarize: bench/profile-summary.ts).
      profile: { type: 'string' },
    },
  });
  const subscribers = Number(values.subscribers);
  const messages = Number(values.messages);
  const size = Number(values.size);
  const repeat = Number(values.repeat);
  const children: ChildProcess[] = [];
  process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
  process.on('SIGINT', () => process.exit(130));

  const redis = await startRedis(1);
  children.push(redis.child);
  console.log(`resumable topics, history off vs on: ${subscribers} rfc6455.topics.v1 subscribers, ${messages} messages of ${size} bytes a run, ${repeat} runs each (medians); server on core 0, subscribers and redis-server ${redis.version} on core 1`);

  const start = async (broker: string, history: 'off' | 'on'): Promise<Side> => {
    const port = await freePort();
    // One directory per server: tsx's loader thread writes a profile of its own beside the main one.
    const profile = values.profile ? ['--cpu-prof', '--cpu-prof-dir', `${values.profile}/${broker}-history-${history}`] : [];
    const server = pinned(0, process.execPath, [...profile, '--import', 'tsx', self, 'server'], {
      env: { ...process.env, PORT: String(port), BROKER: broker, HISTORY: history, REDIS_URL: redis.url },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(server);
    await waitOutput(server, /LISTENING/);
    const url = `ws://127.0.0.1:${port}`;
    const clients = pinned(1, process.execPath, ['--import', 'tsx', self, 'clients'], { env: { ...process.env, URL: url, N: String(subscribers) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(clients);
    await nextMessage(clients, 'ready');
    return { server, clients, control: await connect(url, { perMessageDeflate: false }) };
  };

  const run = async (side: Side, count: number): Promise<Run> => {
    side.clients.send({ type: 'expect', expected: count * subscribers });
    const result = nextMessage(side.clients, 'result', 120_000);
    const done = new Promise<{ cpu: NodeJS.CpuUsage }>((resolve) => side.control.once('message', (data) => resolve(JSON.parse(data.toString()))));
    const t0 = process.hrtime.bigint();
    side.control.send(JSON.stringify({ count, size }));
    const [r, { cpu }] = await Promise.all([result, done]);
    const seconds = Number(BigInt(r.lastAt) - t0) / 1e9;
    const latencies = Float64Array.from(r.latencies as number[]).sort();
    return { perSecond: count / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpuPerMessage: (cpu.user + cpu.system) / count };
  };

  const rows: string[] = [];
  for (const broker of values.broker.split(',')) {
    const off = await start(broker, 'off');
    const on = await start(broker, 'on');
    await run(off, 2000);
    await run(on, 2000);
    const runs: Record<'off' | 'on', Run[]> = { off: [], on: [] };
    for (let i = 0; i < repeat; i++) {
      runs.off.push(await run(off, messages));
      runs.on.push(await run(on, messages));
    }
    const m = (side: 'off' | 'on', key: keyof Run) => median(runs[side].map((r) => r[key]));
    for (const side of ['off', 'on'] as const) {
      const line = `| ${broker} | history ${side} | ${Math.round(m(side, 'perSecond')).toLocaleString('en-US')} | ${Math.round(m(side, 'perSecond') * subscribers).toLocaleString('en-US')} | ${m(side, 'p50').toFixed(1)} ms | ${m(side, 'p99').toFixed(1)} ms | ${m(side, 'cpuPerMessage').toFixed(1)} µs |`;
      // Two ratios: throughput (the subscribers' process may bound it) and the server's own CPU.
      rows.push(side === 'on' ? `${line} **${(m('on', 'perSecond') / m('off', 'perSecond')).toFixed(2)}×** | ${(m('off', 'cpuPerMessage') / m('on', 'cpuPerMessage')).toFixed(2)}× |` : `${line} | |`);
      console.log(`${broker} history ${side}: ${runs[side].map((r) => Math.round(r.perSecond)).join(', ')} messages/s`);
    }
    for (const side of [off, on]) {
      side.control.terminate();
      side.clients.send({ type: 'exit' });
      // SIGTERM: the server exits on its own, writing its profile.
      side.server.kill('SIGTERM');
      await new Promise((r) => side.server.once('exit', r));
    }
  }
  console.log(`\n| broker | | messages/s | deliveries/s | latency p50 | p99 | server CPU per message | on/off throughput | on/off server CPU |\n|---|---|---:|---:|---:|---:|---:|---:|---:|`);
  for (const row of rows) console.log(row);

  if (!values['no-storm']) await storm(redis, Number(values.storm), children, Number(values.missed));
  process.exit(0);
}
