/**
 * Resumable topics in one process: servers with `history` over a LocalBroker (their own or a
 * shared one), clients speaking rfc6455.topics.v1 through ReconnectingWebSocket over real sockets.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, LocalBroker, PublishError, TOPICS_PROTOCOL, WebSocketServer, type Position, type ServerOptions, type WebSocket } from '../../src/index.js';
import { waitFor } from './helpers.js';
import { range, topicProbe, type TopicProbe } from './topic-client.js';

const servers: WebSocketServer[] = [];
const probes: TopicProbe[] = [];
const raw: WebSocket[] = [];

afterEach(async () => {
  for (const p of probes.splice(0)) p.rws.close();
  for (const ws of raw.splice(0)) ws.terminate();
  await Promise.all(servers.splice(0).map((s) => s.close({ timeout: 500 })));
});

async function start(options: Partial<ServerOptions> = {}, port = 0): Promise<{ server: WebSocketServer; url: string; port: number }> {
  const server = new WebSocketServer({ port, host: '127.0.0.1', history: { size: 100 }, ...options });
  servers.push(server);
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const address = server.address() as net.AddressInfo;
  return { server, url: `ws://127.0.0.1:${address.port}`, port: address.port };
}

function probe(urls: string | string[], options = {}): TopicProbe {
  const p = topicProbe(urls, options);
  probes.push(p);
  return p;
}

async function subscribed(p: TopicProbe, topic: string, since?: Position): Promise<void> {
  const done = new Promise<void>((resolve) => p.rws.once('subscribed', () => resolve()));
  p.rws.subscribe(topic, since);
  await done;
}

/** Drops every connection of the server from its side (the clients see 1006 and reconnect). */
function dropAll(server: WebSocketServer): void {
  for (const ws of server.clients) ws.terminate();
}

describe('resumable topics over a LocalBroker', () => {
  it('a client that reconnects gets what was published while it was away, once and in order', async () => {
    const s = await start();
    const p = probe(s.url, { reconnect: { initialDelay: 200, maxDelay: 400 } });
    await subscribed(p, 'news');
    for (const i of range(1, 5)) s.server.publish('news', `m${i}`);
    await waitFor(() => p.got.length === 5, 'the first five');
    dropAll(s.server);
    // Published while the client is away (it waits ≥ 100 ms before reconnecting).
    for (const i of range(6, 40)) s.server.publish('news', `m${i}`);
    await waitFor(() => p.got.length >= 40 && p.connections === 2, 'all 40 after the reconnection');
    for (const i of range(41, 45)) s.server.publish('news', `m${i}`);
    await waitFor(() => p.got.length >= 45, 'live after the resume');
    expect(p.texts('news')).toEqual(range(1, 45).map((i) => `m${i}`));
    expect(p.offsets('news')).toEqual(range(1, 45));
    expect(p.gaps).toEqual([]);
    expect(p.rws.position('news')).toEqual({ offset: 45, epoch: p.got[0].epoch });
  });

  it('resumes on another server of the process (a shared LocalBroker) after its own closes', async () => {
    const broker = new LocalBroker();
    const a = await start({ broker });
    const b = await start({ broker });
    const p = probe([a.url, b.url]);
    await subscribed(p, 'room');
    for (const i of range(1, 10)) b.server.publish('room', `r${i}`);
    await waitFor(() => p.got.length === 10, 'ten on A');
    const closing = a.server.close({ timeout: 200 });
    for (const i of range(11, 30)) b.server.publish('room', `r${i}`);
    await closing;
    await waitFor(() => p.got.length >= 30, 'the rest on B');
    expect(p.texts('room')).toEqual(range(1, 30).map((i) => `r${i}`));
    expect(p.gaps).toEqual([]);
  });

  it('past the history: a gap that says where the client was and the first offset it gets', async () => {
    const s = await start({ history: { size: 10 } });
    const p = probe(s.url, { reconnect: { initialDelay: 200, maxDelay: 400 } });
    await subscribed(p, 't');
    for (const i of range(1, 5)) s.server.publish('t', `x${i}`);
    await waitFor(() => p.got.length === 5, 'five');
    dropAll(s.server);
    for (const i of range(6, 35)) s.server.publish('t', `x${i}`);
    await waitFor(() => p.got.length >= 15, 'the ten history kept');
    const epoch = p.got[0].epoch!;
    expect(p.gaps).toEqual([{ topic: 't', lost: { offset: 5, epoch }, next: 26, epoch }]);
    expect(p.offsets('t')).toEqual([...range(1, 5), ...range(26, 35)]);
  });

  it('entries older than ttl count as gone', async () => {
    const s = await start({ history: { size: 100, ttl: 1000 } });
    const first = probe(s.url);
    await subscribed(first, 't');
    s.server.publish('t', 'a');
    await waitFor(() => first.got.length === 1, 'one');
    const saved = first.rws.position('t')!;
    first.rws.close();
    s.server.publish('t', 'old');
    await new Promise((r) => setTimeout(r, 1100));
    s.server.publish('t', 'fresh');
    // A new client resuming from the saved position, as a page reloaded from storage would.
    const p = probe(s.url);
    await subscribed(p, 't', saved);
    await waitFor(() => p.got.length === 1, 'the fresh one');
    expect(p.texts('t')).toEqual(['fresh']);
    expect(p.gaps.map((g) => [g.lost?.offset, g.next])).toEqual([[1, 3]]);
  });

  it('a position from another epoch (the store was replaced) is a gap, then what the new history holds', async () => {
    const s = await start();
    const p = probe(s.url);
    await subscribed(p, 'e', { offset: 7, epoch: 'feedfacefeed' });
    expect(p.gaps).toEqual([expect.objectContaining({ lost: { offset: 7, epoch: 'feedfacefeed' }, next: 1 })]);
    s.server.publish('e', 'one');
    await waitFor(() => p.got.length === 1, 'the first of the new epoch');
    expect(p.got[0]).toMatchObject({ offset: 1, text: 'one' });
    expect(p.gaps).toHaveLength(1);
  });

  it('authorizeTopic decides per topic; a refusal leaves the connection and its other topics alone', async () => {
    const asked: string[] = [];
    const s = await start({
      authorizeTopic: async (_ws, topic, since) => {
        asked.push(`${topic}${since ? `@${since.offset}` : ''}`);
        return !topic.startsWith('secret');
      },
    });
    const p = probe(s.url);
    p.rws.subscribe('secret:x');
    await subscribed(p, 'open');
    await waitFor(() => p.refused.length === 1, 'the refusal');
    expect(p.refused).toEqual(['secret:x forbidden']);
    s.server.publish('secret:x', 'no');
    s.server.publish('open', 'yes');
    await waitFor(() => p.got.length === 1, 'the open topic');
    expect(p.texts('open')).toEqual(['yes']);
    expect(p.texts('secret:x')).toEqual([]);
    expect(asked).toEqual(['secret:x', 'open']);
  });

  it('protocol frames never reach the application; its own messages do, both ways', async () => {
    const s = await start();
    const seen: string[] = [];
    s.server.on('connection', (ws) => {
      ws.on('message', (data) => {
        seen.push(data.toString());
        ws.send(`echo ${data}`);
      });
    });
    const p = probe(s.url);
    const echoes: string[] = [];
    p.rws.on('message', (data) => echoes.push(data.toString()));
    await subscribed(p, 'x');
    p.rws.send('hello');
    s.server.publish('x', 'published');
    await waitFor(() => echoes.length === 1 && p.got.length === 1, 'the echo and the message');
    expect(seen).toEqual(['hello']);
    expect(echoes).toEqual(['echo hello']);
    expect(p.rws.ws!.protocol).toBe(TOPICS_PROTOCOL);
  });

  it('plain clients keep plain messages: raw payloads on a history topic, protocol-looking text is theirs', async () => {
    const s = await start();
    const seen: string[] = [];
    s.server.on('connection', (ws) => {
      ws.subscribe('plain');
      ws.on('message', (data) => seen.push(data.toString()));
    });
    const ws = await connect(s.url, { perMessageDeflate: false });
    raw.push(ws);
    const got: string[] = [];
    ws.on('message', (data) => got.push(data.toString()));
    await waitFor(() => s.server.clients.size === 1, 'the connection');
    ws.send('{"$topics":"subscribe","topic":"plain"}');
    await waitFor(() => seen.length === 1, 'the text reaches the app');
    s.server.publish('plain', 'raw payload');
    s.server.publish('plain', Buffer.from([1, 2, 3]));
    await waitFor(() => got.length === 2, 'both');
    expect(got[0]).toBe('raw payload');
    expect(seen).toEqual(['{"$topics":"subscribe","topic":"plain"}']);
  });

  it('binary messages keep their bytes; topics without history are live only', async () => {
    const s = await start({ history: (topic) => (topic.startsWith('h:') ? { size: 10 } : null) });
    const p = probe(s.url);
    const binaries: Buffer[] = [];
    p.rws.on('topic', (m) => m.isBinary && binaries.push(m.data));
    const infos: boolean[] = [];
    p.rws.on('subscribed', (info) => infos.push(info.history));
    await subscribed(p, 'h:bin');
    await subscribed(p, 'live');
    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
    s.server.publish('h:bin', bytes);
    s.server.publish('live', 'now');
    await waitFor(() => p.got.length === 2, 'both');
    expect(binaries[0].equals(bytes)).toBe(true);
    expect(p.got.find((m) => m.topic === 'live')).toMatchObject({ offset: undefined, text: 'now' });
    expect(infos).toEqual([true, false]);
  });

  it('publishes racing resumes, 300 rounds: each resuming client gets every offset after its position once', async () => {
    const broker = new LocalBroker();
    const a = await start({ broker, history: { size: 10_000 } });
    const b = await start({ broker, history: { size: 10_000 } });
    const watcher = probe(a.url);
    await subscribed(watcher, 'race');
    let published = 0;
    for (let round = 0; round < 300; round++) {
      const since = watcher.rws.position('race');
      const p = probe(b.url);
      p.rws.subscribe('race', since);
      // One publish per turn of the event loop while the subscribe travels, is authorized and
      // reads history: some land before the read, some during the hand-over, some after.
      for (let i = 0; i < 8; i++) {
        a.server.publish('race', `r${round}-${i}`);
        published++;
        await new Promise((r) => setImmediate(r));
      }
      const last = published;
      await waitFor(() => p.got.length > 0 && p.got.at(-1)!.offset === last, `round ${round}: up to offset ${last}`);
      expect(p.offsets('race')).toEqual(range((since?.offset ?? 0) + 1, last));
      expect(p.gaps).toEqual([]);
      p.rws.close();
      probes.splice(probes.indexOf(p), 1);
    }
    await waitFor(() => watcher.got.length === published, 'the watcher');
    expect(watcher.offsets('race')).toEqual(range(1, published));
  }, 60_000);

  it('clients resuming at once share history reads, and each gets exactly what it missed', async () => {
    // A LocalBroker whose reads take 200 ms (a remote store) and are counted.
    let reads = 0;
    class SlowStore extends LocalBroker {
      override connect(sink: Parameters<LocalBroker['connect']>[0]) {
        const link = super.connect(sink);
        const read = link.read!.bind(link);
        link.read = async (...args) => {
          reads++;
          await new Promise((r) => setTimeout(r, 200));
          return read(...args);
        };
        return link;
      }
    }
    const s = await start({ broker: new SlowStore(), history: { size: 1000 } });
    const first = probe(s.url);
    await subscribed(first, 'wave');
    for (const i of range(1, 60)) s.server.publish('wave', `w${i}`);
    await waitFor(() => first.got.length === 60, 'sixty');
    const epoch = first.got[0].epoch!;
    reads = 0;
    // Forty clients from forty positions, all at once; more is published while they resume.
    const clients = range(1, 40).map((n) => {
      const p = probe(s.url);
      p.rws.subscribe('wave', { offset: n, epoch });
      return { p, from: n };
    });
    for (const i of range(61, 70)) s.server.publish('wave', `w${i}`);
    await waitFor(() => clients.every(({ p }) => p.got.at(-1)?.offset === 70), 'every client up to offset 70', 15_000);
    for (const { p, from } of clients) {
      expect(p.offsets('wave')).toEqual(range(from + 1, 70));
      expect(p.texts('wave')).toEqual(range(from + 1, 70).map((i) => `w${i}`));
      expect(p.gaps).toEqual([]);
    }
    expect(reads).toBeLessThan(20);
  });

  it('publish on a history topic reports its position, and throws once the server is closed', async () => {
    const s = await start();
    const positions: Position[] = [];
    for (const i of range(1, 3)) s.server.publish('p', `${i}`, { callback: (error, position) => !error && positions.push(position!) });
    await waitFor(() => positions.length === 3, 'three callbacks');
    expect(positions.map((p) => p.offset)).toEqual([1, 2, 3]);
    expect(new Set(positions.map((p) => p.epoch)).size).toBe(1);
    await s.server.close();
    expect(() => s.server.publish('p', 'late')).toThrow(PublishError);
  });
});
