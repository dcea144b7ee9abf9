/**
 * Lifecycle holes: streamed messages go through the same policy hook as whole ones (rate limit,
 * stats, idle activity); the heartbeat stops once closing starts; a client whose handshake failed
 * answers ping()/pong() with an error, not a TypeError.
 */
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { connect, WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { frame, OP, RawClient } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import { closed, delay, waitFor } from '../helpers/wait.js';

const defer = useCleanup();

describe('streamed messages go through the same policies as whole ones', () => {
  it('the rate limit counts streamed messages: a flood is closed with 1008', async () => {
    const { port } = await startServer(defer, { streaming: true, rateLimit: { messagesPerSecond: 5 } });
    const peer = await RawClient.open(port, {}, defer);
    for (let i = 0; i < 20; i++) peer.write(Buffer.concat([frame(OP.text, 'he', { fin: false }), frame(OP.cont, 'llo')]));
    expect(await peer.closeCode()).toBe(1008);
  });

  it('stats count streamed messages and their bytes', async () => {
    const { server, url } = await startServer(defer, { streaming: true });
    const fragments: boolean[] = [];
    server.on('connection', (ws) => ws.on('fragment', (_data, _isBinary, fin) => fragments.push(fin)));
    const ws = await connect(url, { perMessageDeflate: false });
    defer(() => ws.terminate());
    for (let i = 0; i < 3; i++) {
      ws.send('abc', { fin: false });
      ws.send('def');
    }
    await waitFor(() => fragments.length === 6, 2000, 'six fragments');
    const stats = server.stats();
    expect(stats.messagesIn).toBe(3);
    expect(stats.bytesIn).toBe(18);
  });

  it('streamed fragments are activity: a peer streaming slowly is not idle', async () => {
    const { port } = await startServer(defer, { streaming: true, idleTimeout: 200 });
    const peer = await RawClient.open(port, {}, defer);
    peer.write(frame(OP.binary, 'x', { fin: false }));
    for (let i = 0; i < 12; i++) {
      await delay(50);
      peer.write(frame(OP.cont, 'x', { fin: false }));
    }
    expect(peer.frames.some((f) => f.opcode === OP.close)).toBe(false);
    expect(peer.isClosed).toBe(false);
  });
});

describe('the heartbeat stops when closing starts', () => {
  it('no ping after our close frame, and the ending says Close timeout, not No pong', async () => {
    const { server, port } = await startServer(defer, { heartbeat: { interval: 60, timeout: 60 }, closeTimeout: 400 });
    const accepted = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
    const peer = await RawClient.open(port, {}, defer);
    const ws = await accepted;
    const gone = closed(ws, 3000);
    ws.close(1000);
    const { code, reason } = await gone;
    expect(code).toBe(1006);
    expect(reason).toBe('Close timeout');
    const closeAt = peer.frames.findIndex((f) => f.opcode === OP.close);
    expect(closeAt).toBeGreaterThanOrEqual(0);
    expect(peer.frames.slice(closeAt).some((f) => f.opcode === OP.ping)).toBe(false);
  });
});

describe('after a failed client handshake', () => {
  it('ping() and pong() call back with an error instead of throwing a TypeError', async () => {
    const unused = net.createServer();
    await new Promise<void>((resolve) => unused.listen(0, '127.0.0.1', resolve));
    const port = (unused.address() as AddressInfo).port;
    await new Promise<void>((resolve) => unused.close(() => resolve()));
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    ws.on('error', () => {});
    await closed(ws);
    const errors: Array<Error | null | undefined> = [];
    expect(() => ws.ping(undefined, (e) => errors.push(e))).not.toThrow();
    expect(() => ws.pong('x', (e) => errors.push(e))).not.toThrow();
    expect(() => ws.ping()).not.toThrow();
    await waitFor(() => errors.length === 2, 1000, 'callbacks');
    expect(errors.every((e) => e instanceof Error && /not open/.test(e.message))).toBe(true);
  });
});
