/**
 * Topics on one server, and servers of one process sharing a LocalBroker: real servers and
 * clients over loopback sockets.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect, LocalBroker, WebSocket, WebSocketServer, type ServerOptions } from '../../src/index.js';
import { waitFor } from './helpers.js';

const servers: WebSocketServer[] = [];
const clients: WebSocket[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of clients.splice(0)) c.terminate();
  await Promise.all(servers.splice(0).map((s) => s.close({ timeout: 500 })));
});

async function startServer(options: Partial<ServerOptions> = {}): Promise<{ server: WebSocketServer; url: string; accepted: WebSocket[] }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  servers.push(server);
  const accepted: WebSocket[] = [];
  server.on('connection', (ws) => accepted.push(ws));
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { server, url: `ws://127.0.0.1:${port}`, accepted };
}

/** A client, its server-side peer, and what it received. */
async function join(s: { url: string; accepted: WebSocket[] }) {
  const before = s.accepted.length;
  const ws = await connect(s.url, { perMessageDeflate: false });
  clients.push(ws);
  const got: { text: string; isBinary: boolean }[] = [];
  ws.on('message', (data, isBinary) => got.push({ text: data.toString(), isBinary }));
  await waitFor(() => s.accepted.length > before, 'the server-side connection');
  return { ws, peer: s.accepted[before], got };
}

describe('topics on one server', () => {
  it('subscribe, unsubscribe and a read-only, live view of the topics', async () => {
    const s = await startServer();
    const { peer } = await join(s);
    expect(peer.topics.size).toBe(0);
    expect(peer.subscribe('news')).toBe(true);
    expect(peer.subscribe('news')).toBe(false);
    expect(peer.subscribe('sport')).toBe(true);
    const view = peer.topics;
    expect([...view].sort()).toEqual(['news', 'sport']);
    expect(view.has('news')).toBe(true);
    expect((view as unknown as { add?: unknown }).add).toBeUndefined();
    expect(peer.unsubscribe('news')).toBe(true);
    expect(peer.unsubscribe('news')).toBe(false);
    expect([...view]).toEqual(['sport']);
    expect(() => peer.subscribe('')).toThrow(TypeError);
  });

  it('publish reaches the subscribers of the topic only, text and binary', async () => {
    const s = await startServer();
    const a = await join(s);
    const b = await join(s);
    const c = await join(s);
    a.peer.subscribe('t');
    b.peer.subscribe('t');
    c.peer.subscribe('other');
    expect(s.server.publish('t', 'hello')).toBe(2);
    expect(s.server.publish('t', Buffer.from([0, 1, 2]))).toBe(2);
    expect(s.server.publish('t', 'as binary', { binary: true })).toBe(2);
    expect(s.server.publish('nobody', 'x')).toBe(0);
    for (const x of [a, b]) {
      await waitFor(() => x.got.length === 3, 'three messages');
      expect(x.got).toEqual([
        { text: 'hello', isBinary: false },
        { text: '\u0000\u0001\u0002', isBinary: true },
        { text: 'as binary', isBinary: true },
      ]);
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(c.got).toEqual([]);
  });

  it('serializes a message once and writes the same frame to every subscriber', async () => {
    const s = await startServer();
    const joined = [];
    for (let i = 0; i < 5; i++) joined.push(await join(s));
    for (const j of joined) j.peer.subscribe('once');
    const sendFrame = vi.spyOn(WebSocket.prototype, 'sendFrame');
    const big = 'x'.repeat(5000);
    s.server.publish('once', 'small');
    s.server.publish('once', big);
    expect(sendFrame).toHaveBeenCalledTimes(10);
    const frames = sendFrame.mock.calls.map((call) => call[0]);
    expect(new Set(frames.slice(0, 5)).size).toBe(1);
    expect(new Set(frames.slice(5)).size).toBe(1);
    expect(sendFrame.mock.calls[5][1]).toBe(5000);
    for (const j of joined) await waitFor(() => j.got.length === 2 && j.got[1].text === big, 'both messages');
  });

  it('a connection leaves all its topics when it closes', async () => {
    const s = await startServer();
    const a = await join(s);
    a.peer.subscribe('x');
    a.peer.subscribe('y');
    const closed = new Promise((resolve) => a.peer.once('close', resolve));
    a.ws.close();
    await closed;
    expect(a.peer.topics.size).toBe(0);
    expect(s.server.publish('x', 'after')).toBe(0);
    expect(a.peer.subscribe('z')).toBe(false);
  });

  it('broadcast reaches every connection of the server', async () => {
    const s = await startServer();
    const all = [await join(s), await join(s), await join(s)];
    all[0].peer.subscribe('t');
    expect(s.server.broadcast('to everyone')).toBe(3);
    for (const x of all) await waitFor(() => x.got.length === 1 && x.got[0].text === 'to everyone', 'the broadcast');
  });

  it('topics are for server-side connections', async () => {
    const s = await startServer();
    const { ws } = await join(s);
    expect(() => ws.subscribe('t')).toThrow(/WebSocketServer/);
    expect(ws.topics.size).toBe(0);
  });

  it('a subscriber that does not read gets the backpressure policy; the others get everything', async () => {
    const s = await startServer({ backpressure: { maxBufferedAmount: 256 * 1024, policy: 'drop' } });
    const fast = await join(s);
    fast.peer.subscribe('firehose');
    // A raw client that completes the handshake and then never reads.
    const slowSocket = net.connect((s.server.address() as net.AddressInfo).port, '127.0.0.1');
    slowSocket.write(
      'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await waitFor(() => s.accepted.length === 2, 'the slow connection');
    slowSocket.pause();
    const slow = s.accepted[1];
    let dropped = 0;
    slow.on('dropped', () => dropped++);
    slow.subscribe('firehose');
    const payload = Buffer.alloc(64 * 1024, 7);
    const count = 200; // 12.5 MiB: more than loopback socket buffers hold
    for (let i = 0; i < count; i++) {
      s.server.publish('firehose', payload);
      await waitFor(() => fast.got.length === i + 1, `message ${i} on the fast client`, 10_000, 1);
    }
    expect(dropped).toBeGreaterThan(0);
    expect(slow.bufferedAmount).toBeLessThanOrEqual(256 * 1024 + payload.length);
    expect(fast.got).toHaveLength(count);
    slowSocket.destroy();
  });
});

describe('LocalBroker: servers of one process share topics', () => {
  it('a client of one server gets what another publishes, once', async () => {
    const broker = new LocalBroker();
    const s1 = await startServer({ broker });
    const s2 = await startServer({ broker });
    const on1 = await join(s1);
    const on2 = await join(s2);
    on1.peer.subscribe('shared');
    on2.peer.subscribe('shared');
    s2.server.publish('shared', 'from 2');
    s1.server.publish('shared', 'from 1');
    for (const x of [on1, on2]) await waitFor(() => x.got.length === 2, 'both messages');
    await new Promise((r) => setTimeout(r, 50));
    expect(on1.got.map((m) => m.text)).toEqual(['from 2', 'from 1']);
    expect(on2.got.map((m) => m.text)).toEqual(['from 2', 'from 1']);
    // A topic nobody wants on s1 is not sent there.
    on1.peer.unsubscribe('shared');
    s2.server.publish('shared', 'again');
    await waitFor(() => on2.got.length === 3, 'the third message');
    expect(on1.got).toHaveLength(2);
  });
});
