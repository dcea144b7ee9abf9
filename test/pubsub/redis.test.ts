/**
 * Pub/sub across server processes through a real redis-server: three servers (two on node-redis,
 * one on ioredis), clients over real sockets. Redis and servers are killed for real.
 */
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReconnectingWebSocket } from '../../src/index.js';
import { cleanup, openProbe, probe, sleep, startRedis, startServer, waitFor, type Probe, type RedisProcess, type ServerProcess } from './helpers.js';

let redis: RedisProcess;
let A: ServerProcess;
let B: ServerProcess;
let C: ServerProcess;
const probes: Probe[] = [];

async function client(server: ServerProcess): Promise<Probe> {
  const p = await openProbe(server.url);
  probes.push(p);
  return p;
}

/** Redis's own view: the channels some connection subscribes to. */
async function redisChannels(pattern: string): Promise<string[]> {
  const c = createClient({ url: redis.url });
  c.on('error', () => {});
  await c.connect();
  try {
    return await c.pubSubChannels(pattern);
  } finally {
    c.destroy();
  }
}

beforeAll(async () => {
  redis = await startRedis();
  [A, B, C] = await Promise.all([
    startServer('A', { REDIS_URL: redis.url, CLIENT: 'node-redis' }),
    startServer('B', { REDIS_URL: redis.url, CLIENT: 'ioredis' }),
    startServer('C', { REDIS_URL: redis.url, CLIENT: 'node-redis' }),
  ]);
}, 60_000);

afterAll(async () => {
  for (const p of probes) p.ws.terminate();
  await cleanup();
});

describe('RedisBroker across server processes', () => {
  it('a client on server A receives what is published on server B (and the other way), text and binary intact', async () => {
    const onA = await client(A);
    const onB = await client(B);
    await onA.subscribe('room');
    await onB.subscribe('room');
    await waitFor(async () => (await redisChannels('test:room')).length === 1, 'the channel on Redis');
    const publisher = await client(C);
    await publisher.publish('room', 'héllo from C ✓');
    const bytes = Buffer.from(Array.from({ length: 512 }, (_, i) => i & 0xff));
    await publisher.command({ op: 'pub', topic: 'room', b64: bytes.toString('base64') });
    await waitFor(() => onA.binaries.length === 1 && onB.binaries.length === 1, 'the binary message on A and B');
    expect(onA.texts).toEqual(['héllo from C ✓']);
    expect(onB.texts).toEqual(['héllo from C ✓']);
    expect(onA.binaries[0].equals(bytes)).toBe(true);
    expect(onB.binaries[0].equals(bytes)).toBe(true);

    // B (ioredis) to A (node-redis).
    const onB2 = await client(B);
    await onB2.publish('room', 'from B');
    await waitFor(() => onA.texts.includes('from B'), 'B → A');
    // Not subscribed: nothing.
    expect(publisher.texts).toEqual([]);
  });

  it('never delivers a message twice on the publishing server', async () => {
    const onA = await client(A);
    const onB = await client(B);
    const publisherOnA = await client(A);
    await onA.subscribe('dup');
    await onB.subscribe('dup');
    await waitFor(async () => (await redisChannels('test:dup')).length === 1, 'the channel on Redis');
    await publisherOnA.command({ op: 'pub', topic: 'dup', data: 'm', count: 200 });
    await waitFor(() => onB.texts.length === 200, "B's client gets all 200");
    // Redis sends each subscriber its messages in publish order: once A's client has B's marker,
    // A has received back (and must have skipped) everything A published before it.
    await onB.publish('dup', 'marker from B');
    await waitFor(() => onA.texts.includes('marker from B'), 'the marker on A');
    await sleep(100);
    expect(onA.texts.length).toBe(201);
    expect(onA.texts.filter((t) => t === 'm0')).toHaveLength(1);
    expect(onB.texts.filter((t) => t === 'm0')).toHaveLength(1);
  });

  it('keeps the order of each publisher', async () => {
    const onB = await client(B);
    await onB.subscribe('order');
    await waitFor(async () => (await redisChannels('test:order')).length === 1, 'the channel on Redis');
    const fromA = await client(A);
    const fromC = await client(C);
    await Promise.all([
      fromA.command({ op: 'pub', topic: 'order', data: 'a', count: 1000 }),
      fromC.command({ op: 'pub', topic: 'order', data: 'c', count: 1000 }),
    ]);
    await waitFor(() => onB.texts.length === 2000, 'all 2000 messages', 15_000);
    const seq = (prefix: string) => onB.texts.filter((t) => t.startsWith(prefix)).map((t) => Number(t.slice(1)));
    expect(seq('a')).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(seq('c')).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('subscribes to a Redis channel only while some local connection wants the topic', async () => {
    expect(await redisChannels('test:lonely')).toEqual([]);
    const first = await client(A);
    const second = await client(A);
    await first.subscribe('lonely');
    await waitFor(async () => (await redisChannels('test:lonely')).length === 1, 'SUBSCRIBE on the first subscriber');
    await second.subscribe('lonely');
    await first.unsubscribe('lonely');
    await sleep(200);
    expect(await redisChannels('test:lonely')).toEqual(['test:lonely']);
    // The last one leaves by closing: the server unsubscribes.
    await second.close();
    await waitFor(async () => (await redisChannels('test:lonely')).length === 0, 'UNSUBSCRIBE after the last one left');
  });

  it('resumes delivery after Redis is killed and restarted, without restarting the servers', async () => {
    const onA = await client(A);
    const onB = await client(B);
    await onA.subscribe('survive');
    await onB.subscribe('survive');
    const fromC = await client(C);
    const fromB = await client(B);
    await waitFor(async () => (await redisChannels('test:survive')).length === 1, 'the channel on Redis');
    await fromC.publish('survive', 'before');
    await waitFor(() => onA.texts.includes('before') && onB.texts.includes('before'), 'delivery before the outage');

    await redis.kill();
    await sleep(300);
    redis = await startRedis(redis.port);

    // Publish until it gets through again: the servers reconnect to Redis and subscribe again.
    let n = 0;
    await waitFor(
      async () => {
        await fromC.publish('survive', `probe-${n++}`);
        return onA.texts.some((t) => t.startsWith('probe-')) && onB.texts.some((t) => t.startsWith('probe-'));
      },
      'delivery after Redis came back',
      20_000,
      200,
    );
    expect(A.output() + B.output() + C.output()).toMatch(/RESUBSCRIBED/);
    // And steadily: both directions, everything.
    await fromC.command({ op: 'pub', topic: 'survive', data: 'after-c', count: 50 });
    await fromB.command({ op: 'pub', topic: 'survive', data: 'after-b', count: 50 });
    await waitFor(() => onA.texts.filter((t) => t.startsWith('after-')).length === 100, 'all 100 on A');
    await waitFor(() => onB.texts.filter((t) => t.startsWith('after-')).length === 100, 'all 100 on B');
    expect(onA.closed || onB.closed).toBe(false);
  }, 40_000);

  it('a server killed: clients of the others are unaffected, its own reconnect elsewhere and get what follows', async () => {
    const onA = await client(A);
    const onB = await client(B);
    await onA.subscribe('feed');
    await onB.subscribe('feed');

    // A reconnecting client on C, with A and B as the fallbacks; it subscribes on every connection.
    const onConnects: string[] = [];
    const received: string[] = [];
    const rws = new ReconnectingWebSocket([C.url, A.url, B.url], {
      perMessageDeflate: false,
      reconnect: { initialDelay: 50, maxDelay: 200, jitter: 0 },
      onConnect: async (ws) => {
        onConnects.push(ws.url);
        await probe(ws).subscribe('feed');
      },
    });
    rws.on('message', (data) => {
      const text = data.toString();
      if (!text.startsWith('{"ack"')) received.push(text);
    });
    const reconnected = new Promise<void>((resolve) => rws.once('reconnect', () => resolve()));
    try {
      await waitFor(() => rws.ws !== null, 'the reconnecting client on C');
      expect(onConnects).toEqual([`${C.url}/`]);

      // A steady stream from B while C dies.
      const fromB = await client(B);
      let seq = 0;
      let streaming = true;
      const stream = (async () => {
        while (streaming && seq < 2000) {
          await fromB.publish('feed', `s${seq++}`);
          await sleep(5);
        }
      })();
      await waitFor(() => received.length > 10, 'the stream on C');
      await C.kill();
      await reconnected;
      expect(onConnects[1]).toBe(`${A.url}/`);
      streaming = false;
      await stream;

      // Published after it is back: all of it, in order.
      await fromB.command({ op: 'pub', topic: 'feed', data: 'back', count: 100 });
      await waitFor(() => received.filter((t) => t.startsWith('back')).length === 100, 'everything published after the reconnection');
      expect(received.filter((t) => t.startsWith('back'))).toEqual(Array.from({ length: 100 }, (_, i) => `back${i}`));

      // A's and B's clients never noticed: connected, every message of the stream, in order.
      const expected = Array.from({ length: seq }, (_, i) => `s${i}`);
      await waitFor(() => onA.texts.filter((t) => t.startsWith('s')).length === seq, 'the whole stream on A');
      await waitFor(() => onB.texts.filter((t) => t.startsWith('s')).length === seq, 'the whole stream on B');
      expect(onA.texts.filter((t) => t.startsWith('s'))).toEqual(expected);
      expect(onB.texts.filter((t) => t.startsWith('s'))).toEqual(expected);
      expect(onA.closed || onB.closed).toBe(false);
    } finally {
      rws.close();
    }
  }, 40_000);
});
