/**
 * The reconnect storm: N clients (ReconnectingWebSocket, topics: true) on one server, subscribed
 * to one topic with history in Redis. The server is killed (SIGKILL); while it is down another
 * server publishes `missed` messages (default 100); it restarts on the same port, and every client reconnects and
 * resumes from its position. Measured: the time until every client has every message (from the
 * kill, and from the restarted server listening), gaps (must be 0), and Redis's load meanwhile
 * (commands, CPU seconds, peak ops/s from INFO sampled every 100 ms).
 *
 * Run by bench/topics.ts (`npm run bench:topics`), or alone: `tsx bench/topics-storm.ts [N] [missed]`.
 */
import { type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { connect, ReconnectingWebSocket, WebSocketServer } from '../src/index.js';
import { RedisBroker } from '../src/redis/index.js';
import { freePort, nextMessage, pinned, startRedis, waitOutput, type Redis } from './procs.js';

const self = fileURLToPath(import.meta.url);
const TOPIC = 'storm';

if (process.argv[1] === self) {
  const role = process.argv[2];
  if (role === 'server') await runServer();
  else if (role === 'clients') await runClients();
  else {
    const children: ChildProcess[] = [];
    process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
    const redis = await startRedis(1);
    children.push(redis.child);
    await storm(redis, Number(role ?? 10_000), children, Number(process.argv[3] ?? 100));
    process.exit(0);
  }
}

async function runServer(): Promise<void> {
  const { PORT, REDIS_URL } = process.env;
  const publisher = createClient({ url: REDIS_URL });
  const subscriber = publisher.duplicate();
  for (const c of [publisher, subscriber]) c.on('error', () => {});
  await Promise.all([publisher.connect(), subscriber.connect()]);
  const broker = new RedisBroker({ publisher, subscriber, prefix: 'storm:' });
  const server = new WebSocketServer({ port: Number(PORT), host: '127.0.0.1', broker, perMessageDeflate: false, history: { size: 10_000 } });
  server.on('connection', (ws) => {
    if (ws.protocol) return;
    ws.on('message', (data) => {
      const { count } = JSON.parse(data.toString());
      let stored = 0;
      for (let i = 0; i < count; i++) server.publish(TOPIC, `m${i}`, { callback: (error) => !error && ++stored === count && ws.send('{"done":true}') });
    });
  });
  server.on('listening', () => process.stdout.write('LISTENING\n'));
  process.on('SIGTERM', () => process.exit(0));
}

async function runClients(): Promise<void> {
  const n = Number(process.env.N);
  const clients: ReconnectingWebSocket[] = [];
  let target = Infinity;
  let reached = 0;
  let gaps = 0;
  const last = new Int32Array(n);
  const check = (i: number, offset: number) => {
    const before = last[i];
    last[i] = offset;
    if (before < target && offset >= target && ++reached === n) process.send!({ type: 'reached', at: String(process.hrtime.bigint()), gaps });
  };
  for (let i = 0; i < n; i += 250) {
    await Promise.all(
      Array.from({ length: Math.min(250, n - i) }, (_, k) => {
        const index = i + k;
        const rws = new ReconnectingWebSocket(process.env.URL!, { topics: true, perMessageDeflate: false, reconnect: { initialDelay: 200, maxDelay: 2000, jitter: 0.5 } });
        rws.on('error', () => {});
        rws.on('gap', () => gaps++);
        rws.on('topic', (m) => check(index, m.offset!));
        clients.push(rws);
        return new Promise<void>((resolve) => {
          rws.once('subscribed', () => resolve());
          rws.subscribe(TOPIC);
        });
      }),
    );
  }
  process.on('message', (message: { type: string; offset: number }) => {
    if (message.type === 'expect') {
      target = message.offset;
      reached = 0;
      for (let i = 0; i < n; i++) if (last[i] >= target) reached++;
      if (reached === n) process.send!({ type: 'reached', at: String(process.hrtime.bigint()), gaps });
    } else if (message.type === 'exit') {
      for (const c of clients) c.close();
      process.exit(0);
    }
  });
  process.send!({ type: 'ready' });
}

interface RedisLoad {
  calls: number;
  cpu: number;
}

async function redisLoad(info: () => Promise<string>): Promise<RedisLoad> {
  const text = await info();
  // INFO itself (the sampler's) left out.
  const calls = [...text.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].reduce((sum, m) => (m[1] === 'info' ? sum : sum + Number(m[2])), 0);
  const cpu = Number(text.match(/used_cpu_user:([\d.]+)/)![1]) + Number(text.match(/used_cpu_sys:([\d.]+)/)![1]);
  return { calls, cpu };
}

export async function storm(redis: Redis, n: number, children: ChildProcess[], missed = 100): Promise<void> {
  const monitor = createClient({ url: redis.url });
  monitor.on('error', () => {});
  await monitor.connect();
  const info = () => monitor.info('everything');
  const port = await freePort();
  // STORM_PROFILE=dir: CPU profiles of the restarted server and of the clients' process.
  const profile = (name: string) => (process.env.STORM_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', `${process.env.STORM_PROFILE}/${name}`] : []);
  const startServer = async (core: number, p: number, flags: string[] = []) => {
    const child = pinned(core, process.execPath, [...flags, '--import', 'tsx', self, 'server'], { env: { ...process.env, PORT: String(p), REDIS_URL: redis.url }, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await waitOutput(child, /LISTENING/);
    return child;
  };
  let server = await startServer(0, port);
  const publisherPort = await freePort();
  await startServer(1, publisherPort);
  const control = await connect(`ws://127.0.0.1:${publisherPort}`, { perMessageDeflate: false });
  const publish = (count: number) =>
    new Promise<void>((resolve) => {
      control.once('message', () => resolve());
      control.send(JSON.stringify({ count }));
    });
  const clients = pinned(1, process.execPath, [...profile('clients'), '--import', 'tsx', self, 'clients'], { env: { ...process.env, URL: `ws://127.0.0.1:${port}`, N: String(n) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(clients);
  await nextMessage(clients, 'ready', 300_000);
  const reached = (offset: number) => {
    const done = nextMessage<{ at: string; gaps: number }>(clients, 'reached', 120_000);
    clients.send({ type: 'expect', offset });
    return done;
  };
  await publish(100);
  await reached(100);

  // The storm.
  let peak = 0;
  const sampler = setInterval(() => {
    void info().then((text) => (peak = Math.max(peak, Number(text.match(/instantaneous_ops_per_sec:(\d+)/)?.[1] ?? 0))));
  }, 100);
  const before = await redisLoad(info);
  const killedAt = process.hrtime.bigint();
  server.kill('SIGKILL');
  await new Promise((r) => server.once('exit', r));
  await publish(missed);
  server = await startServer(0, port, profile('restarted-server'));
  const listeningAt = process.hrtime.bigint();
  const all = await reached(100 + missed);
  clearInterval(sampler);
  const after = await redisLoad(info);
  const doneAt = BigInt(all.at);
  const s = (from: bigint) => (Number(doneAt - from) / 1e9).toFixed(2);
  console.log(`\nreconnect storm: ${n.toLocaleString('en-US')} clients on one server, killed (SIGKILL) and restarted on its port; ${missed} messages published meanwhile on another server (Redis commands: every command but INFO, publishes included)`);
  console.log(`| clients | kill → all recovered | restarted server listening → all recovered | gaps | Redis commands during the storm | Redis CPU | peak Redis ops/s |`);
  console.log(`|---:|---:|---:|---:|---:|---:|---:|`);
  console.log(`| ${n.toLocaleString('en-US')} | ${s(killedAt)} s | ${s(listeningAt)} s | ${all.gaps} | ${(after.calls - before.calls).toLocaleString('en-US')} | ${(after.cpu - before.cpu).toFixed(2)} s | ${peak.toLocaleString('en-US')} |`);
  clients.send({ type: 'exit' });
  control.terminate();
  monitor.destroy();
  server.kill('SIGTERM');
  await Promise.all([server, clients].map((child) => new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)))));
}
