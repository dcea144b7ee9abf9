/**
 * Resumable topics across real processes: a redis-server of our own, three server processes
 * (two on node-redis, one on ioredis) with history in Redis Streams, clients speaking
 * rfc6455.topics.v1 through ReconnectingWebSocket. Servers and Redis are killed with SIGKILL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type WebSocket } from '../../src/index.js';
import { cleanup, startRedis, startServer, waitFor, type RedisProcess, type ServerProcess } from './helpers.js';
import { range, topicProbe, type TopicProbe } from './topic-client.js';

const FIXTURE = fileURLToPath(new URL('fixtures/history-server.ts', import.meta.url));
let redis: RedisProcess;
let A: ServerProcess;
let B: ServerProcess;
let C: ServerProcess;
const probes: TopicProbe[] = [];
const sockets: WebSocket[] = [];

function probe(urls: string[], options = {}): TopicProbe {
  const p = topicProbe(urls, options);
  probes.push(p);
  return p;
}

async function subscribed(p: TopicProbe, topic: string): Promise<void> {
  const done = new Promise<void>((resolve) => p.rws.once('subscribed', () => resolve()));
  p.rws.subscribe(topic);
  await done;
}

interface Ack {
  stored: number;
  failed: number;
}

/** A plain client of a fixture server that sends it commands and waits for their acks. */
async function commander(server: ServerProcess) {
  const ws = await connect(server.url, { perMessageDeflate: false });
  sockets.push(ws);
  let next = 0;
  const waiting = new Map<number, (ack: Ack) => void>();
  ws.on('message', (data) => {
    const ack = JSON.parse(data.toString());
    waiting.get(ack.ack)?.(ack);
  });
  const command = (op: Record<string, unknown>) =>
    new Promise<Ack>((resolve, reject) => {
      const id = ++next;
      const timer = setTimeout(() => reject(new Error(`no ack for ${JSON.stringify(op)}`)), 20_000);
      waiting.set(id, (ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
      ws.send(JSON.stringify({ ...op, id }));
    });
  return {
    publish: (topic: string, data: string, count = 1) => command({ op: 'pub', topic, data, count }),
    drop: () => command({ op: 'drop' }),
  };
}

/** Each probe got offsets 1..n on `topic`, each once and in order, and every text once. */
function expectExactlyOnce(p: TopicProbe, topic: string, texts: Set<string>): void {
  expect(p.offsets(topic)).toEqual(range(1, texts.size));
  expect(new Set(p.texts(topic))).toEqual(texts);
  expect(p.gaps).toEqual([]);
}

/** Redis's first kept entry of a topic's stream: what a trimmed history starts at. */
async function firstKept(topic: string): Promise<number> {
  const c = createClient({ url: redis.url });
  c.on('error', () => {});
  await c.connect();
  try {
    const entries = await c.xRange(`h:${topic}:history`, '-', '+', { COUNT: 1 });
    return Number(entries![0].id.split('-')[0]);
  } finally {
    c.destroy();
  }
}

/** Waits for every server to have subscribed again after a Redis restart. */
async function resubscribed(servers: ServerProcess[], before: number[]): Promise<void> {
  const count = (s: ServerProcess) => s.output().split('RESUBSCRIBED').length - 1;
  await waitFor(() => servers.every((s, i) => count(s) > before[i]), 'the servers back on Redis', 20_000).catch((error) => {
    throw new Error(`${error.message}\n${servers.map((s) => s.output()).join('\n')}`);
  });
}
const resubscriptions = (servers: ServerProcess[]) => servers.map((s) => s.output().split('RESUBSCRIBED').length - 1);

beforeAll(async () => {
  redis = await startRedis();
  [A, B, C] = await Promise.all([
    startServer('A', { REDIS_URL: redis.url, CLIENT: 'node-redis' }, FIXTURE),
    startServer('B', { REDIS_URL: redis.url, CLIENT: 'ioredis' }, FIXTURE),
    startServer('C', { REDIS_URL: redis.url, CLIENT: 'node-redis' }, FIXTURE),
  ]);
}, 60_000);

afterAll(async () => {
  for (const p of probes) p.rws.close();
  for (const ws of sockets) ws.terminate();
  await cleanup();
});

describe('resumable topics through Redis Streams', () => {
  it('two servers publishing on one topic give one order that every client sees', async () => {
    const clients = [A, B, C].map((s) => probe([s.url]));
    await Promise.all(clients.map((p) => subscribed(p, 'order')));
    const [onA, onB] = await Promise.all([commander(A), commander(B)]);
    await Promise.all([onA.publish('order', 'a', 200), onB.publish('order', 'b', 200)]);
    await waitFor(() => clients.every((p) => p.got.length === 400), 'all 400 on every client', 20_000);
    const order = clients[0].texts('order');
    for (const p of clients) expect(p.texts('order')).toEqual(order);
    expect(clients[0].offsets('order')).toEqual(range(1, 400));
    // Each publisher's own order holds inside the one order.
    expect(order.filter((t) => t.startsWith('a'))).toEqual(range(0, 199).map((i) => `a${i}`));
    expect(order.filter((t) => t.startsWith('b'))).toEqual(range(0, 199).map((i) => `b${i}`));
  });

  it('a client disconnected for 5 s while 1,000 messages are published gets all of them, once and in order', async () => {
    const p = probe([A.url], { reconnect: { initialDelay: 5000, maxDelay: 5000, jitter: 0 } });
    await subscribed(p, 'away');
    const onB = await commander(B);
    await onB.publish('away', 'before', 10);
    await waitFor(() => p.got.length === 10, 'the first ten');
    const reconnected = new Promise<void>((resolve) => p.rws.once('reconnect', () => resolve()));
    await (await commander(A)).drop();
    const started = Date.now();
    expect((await onB.publish('away', 'while', 1000)).stored).toBe(1000);
    await reconnected;
    expect(Date.now() - started).toBeGreaterThan(4000);
    await waitFor(() => p.got.length >= 1010, 'the 1,000 replayed', 20_000);
    expect((await onB.publish('away', 'after', 5)).stored).toBe(5);
    await waitFor(() => p.got.length >= 1015, 'live after the replay');
    expectExactlyOnce(p, 'away', new Set([...range(0, 9).map((i) => `before${i}`), ...range(0, 999).map((i) => `while${i}`), ...range(0, 4).map((i) => `after${i}`)]));
  }, 30_000);

  it('past the history (MAXLEN ~ 20): a gap whose next offset is the first Redis kept, then the rest', async () => {
    const p = probe([C.url], { reconnect: { initialDelay: 2000, maxDelay: 2000, jitter: 0 } });
    await subscribed(p, 'small:t');
    const onA = await commander(A);
    await onA.publish('small:t', 's', 3);
    await waitFor(() => p.got.length === 3, 'three');
    const epoch = p.got[0].epoch!;
    const reconnected = new Promise<void>((resolve) => p.rws.once('reconnect', () => resolve()));
    await (await commander(C)).drop();
    const started = Date.now();
    await onA.publish('small:t', 'more', 500);
    expect(Date.now() - started).toBeLessThan(2000);
    await reconnected;
    const first = await firstKept('small:t');
    expect(first).toBeGreaterThan(4);
    await waitFor(() => p.got.length === 3 + (503 - first + 1), 'what history kept', 20_000);
    expect(p.gaps).toEqual([{ topic: 'small:t', lost: { offset: 3, epoch }, next: first, epoch }]);
    expect(p.offsets('small:t')).toEqual([1, 2, 3, ...range(first, 503)]);
  }, 30_000);

  it('refuses a topic that authorizeTopic refuses, over Redis too', async () => {
    const p = probe([B.url]);
    p.rws.subscribe('private:x');
    await waitFor(() => p.refused.length === 1, 'the refusal');
    expect(p.refused).toEqual(['private:x forbidden']);
  });

  it('a publish racing a resume: no loss, no duplicate (150 rounds)', async () => {
    const onB = await commander(B);
    const watcher = probe([C.url]);
    await subscribed(watcher, 'race');
    let published = 0;
    for (let round = 0; round < 150; round++) {
      const since = watcher.rws.position('race');
      // The burst is in flight on B while the new client's subscribe reads history on A.
      const burst = onB.publish('race', `r${round}-`, 25);
      const p = probe([A.url]);
      p.rws.subscribe('race', since);
      expect((await burst).stored).toBe(25);
      published += 25;
      const last = published;
      await waitFor(() => p.got.length > 0 && p.got.at(-1)!.offset === last, `round ${round}: up to offset ${last}`, 20_000);
      expect(p.offsets('race')).toEqual(range((since?.offset ?? 0) + 1, last));
      expect(p.gaps).toEqual([]);
      p.rws.close();
      await waitFor(() => watcher.got.length === published, 'the watcher');
    }
    expect(watcher.offsets('race')).toEqual(range(1, published));
  }, 30_000);

  it('Redis down: publishing fails at the caller; back with its AOF: everyone resumes, nothing lost', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rfc6455-aof-'));
    try {
      // A Redis of its own with an AOF, restarted on the same port and directory.
      const aof = await startRedis(undefined, { aof: dir });
      const [X, Y] = await Promise.all([
        startServer('X', { REDIS_URL: aof.url, CLIENT: 'node-redis' }, FIXTURE),
        startServer('Y', { REDIS_URL: aof.url, CLIENT: 'ioredis' }, FIXTURE),
      ]);
      const live = probe([X.url]);
      const away = probe([Y.url], { reconnect: { initialDelay: 3000, maxDelay: 3000, jitter: 0 } });
      await Promise.all([subscribed(live, 'durable'), subscribed(away, 'durable')]);
      const [onX, onY] = await Promise.all([commander(X), commander(Y)]);
      await onX.publish('durable', 'one', 50);
      await waitFor(() => live.got.length === 50 && away.got.length === 50, 'the first 50');
      const before = resubscriptions([X]);
      await aof.kill();
      expect(await onX.publish('durable', 'lost', 5)).toMatchObject({ stored: 0, failed: 5 });
      expect(await onY.publish('durable', 'lost', 5)).toMatchObject({ stored: 0, failed: 5 });
      await (await commander(Y)).drop();
      await startRedis(aof.port, { aof: dir });
      // Y has no subscriber left (its client is away): only X has channels to subscribe again.
      await resubscribed([X], before);
      await onX.publish('durable', 'two', 50);
      await waitFor(() => live.got.length === 100 && away.got.length === 100, 'the next 50 on both', 20_000);
      const texts = new Set([...range(0, 49).map((i) => `one${i}`), ...range(0, 49).map((i) => `two${i}`)]);
      expectExactlyOnce(live, 'durable', texts);
      expectExactlyOnce(away, 'durable', texts);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 40_000);

  it('Redis restarted without persistence: a new epoch, and every client — connected or resuming — gets a gap', async () => {
    const clients = [probe([A.url]), probe([B.url]), probe([C.url], { reconnect: { initialDelay: 2000, maxDelay: 2000, jitter: 0 } })];
    await Promise.all(clients.map((p) => subscribed(p, 'volatile')));
    const onA = await commander(A);
    await onA.publish('volatile', 'old', 20);
    await waitFor(() => clients.every((p) => p.got.length === 20), 'the first 20');
    const oldEpoch = clients[0].got[0].epoch!;
    const before = resubscriptions([A, B, C]);
    await (await commander(C)).drop();
    await redis.kill();
    redis = await startRedis(redis.port);
    await resubscribed([A, B, C], before);
    await waitFor(() => clients.every((p) => p.gaps.length === 1), 'a gap on every client', 20_000);
    for (const p of clients) {
      expect(p.gaps[0]).toMatchObject({ topic: 'volatile', lost: { offset: 20, epoch: oldEpoch }, next: 1 });
      expect(p.gaps[0].epoch).not.toBe(oldEpoch);
    }
    await onA.publish('volatile', 'new', 10);
    await waitFor(() => clients.every((p) => p.got.length === 30), 'the new epoch', 20_000);
    for (const p of clients) expect(p.offsets('volatile')).toEqual([...range(1, 20), ...range(1, 10)]);
  }, 40_000);

  it('kill -9 a server mid-stream: its clients reconnect to the others and end with every message once, in order', async () => {
    const ring = (first: ServerProcess) => [first, ...[A, B, C].filter((s) => s !== first)].map((s) => s.url);
    const clients = [A, B, C].flatMap((s) => [probe(ring(s)), probe(ring(s)), probe(ring(s))]);
    await Promise.all(clients.map((p) => subscribed(p, 'failover')));
    const onC = clients.slice(6);
    const [onA, onB] = await Promise.all([commander(A), commander(B)]);
    const texts = new Set<string>();
    const BATCHES = 60;
    const PER = 10;
    // Two publishers streaming without pause while C dies: messages are in flight to C's
    // clients (on C's sockets, in Redis, in C's feed) at the moment of the kill.
    const stream = async (publisher: typeof onA, name: string) => {
      for (let batch = 0; batch < BATCHES; batch++) {
        const ack = await publisher.publish('failover', `${name}${batch}-`, PER);
        expect(ack.stored).toBe(PER);
        for (let i = 0; i < PER; i++) texts.add(`${name}${batch}-${i}`);
      }
    };
    const streams = Promise.all([stream(onA, 'a'), stream(onB, 'b')]);
    const total = 2 * BATCHES * PER;
    await waitFor(() => onC.every((p) => p.got.length >= 100), "C's clients in the stream", 20_000);
    await C.kill();
    const atKill = onC.map((p) => p.got.length);
    await streams;
    // The kill was mid-stream: C's clients had part of it, not all.
    expect(atKill.every((n) => n < total)).toBe(true);
    await waitFor(() => clients.every((p) => p.got.length >= total), `all ${total} on every client`, 30_000);
    for (const p of clients) expectExactlyOnce(p, 'failover', texts);
    // C's three clients went elsewhere.
    expect(onC.every((p) => p.connections === 2)).toBe(true);
  }, 60_000);
});
