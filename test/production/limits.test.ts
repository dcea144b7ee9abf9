/**
 * Limits: maxConnections (503), maxConnectionsPerIp (429, counted per source address), the
 * handshake timeout against slowloris clients, and the per-connection rate limits.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { connect, HandshakeError, type WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { closeFrame, frame, OP, RawClient } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import { delay, next, SLACK, socketClosed, waitFor } from '../helpers/wait.js';

const defer = useCleanup();

async function open(port: number, options: Parameters<typeof RawClient.connect>[1] = {}): Promise<RawClient> {
  const peer = await RawClient.connect(port, options);
  defer(() => peer.destroy());
  return peer;
}

describe('maxConnections', () => {
  it('refuses the connection over the cap with 503 (Retry-After), and accepts again once one closed', async () => {
    const { server, port } = await startServer(defer, { maxConnections: 2 });
    let connections = 0;
    server.on('connection', () => connections++);
    const a = await open(port);
    const b = await open(port);
    expect([a.status, b.status]).toEqual([101, 101]);
    const c = await open(port);
    expect(c.status).toBe(503);
    expect(c.headers['retry-after']).toBe('5');
    await c.closed;
    expect(connections).toBe(2);
    expect(server.clients.size).toBe(2);

    // One leaves: there is room again.
    a.send(closeFrame(1000));
    await a.closed;
    await waitFor(() => server.clients.size === 1, 2000, 'the server to see the close');
    const d = await open(port);
    expect(d.status).toBe(101);
    expect(connections).toBe(3);
    expect(server.stats().handshakesRefused).toEqual({ 503: 1 });
  });

  it('the client sees a HandshakeError with status 503', async () => {
    const { url } = await startServer(defer, { maxConnections: 1 });
    const first = await connect(url);
    defer(() => first.terminate());
    const error = await connect(url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).status).toBe(503);
  });
});

describe('maxConnectionsPerIp', () => {
  it('refuses a second connection from the same address with 429 while another address still gets in', async () => {
    const { server, port } = await startServer(defer, { maxConnectionsPerIp: 2 });
    const seen: string[] = [];
    server.on('connection', (_ws, req) => seen.push(req.socket.remoteAddress!));
    const a1 = await open(port, { localAddress: '127.0.0.1' });
    const a2 = await open(port, { localAddress: '127.0.0.1' });
    const a3 = await open(port, { localAddress: '127.0.0.1' });
    expect([a1.status, a2.status, a3.status]).toEqual([101, 101, 429]);
    expect(a3.headers['retry-after']).toBe('5');
    const b1 = await open(port, { localAddress: '127.0.0.2' });
    const b2 = await open(port, { localAddress: '127.0.0.2' });
    const b3 = await open(port, { localAddress: '127.0.0.2' });
    expect([b1.status, b2.status, b3.status]).toEqual([101, 101, 429]);
    expect(seen).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.2', '127.0.0.2']);

    // Closing one from 127.0.0.2 frees a slot for 127.0.0.2 only.
    b1.destroy();
    await waitFor(() => server.clients.size === 3, 2000, 'the server to see the close');
    expect((await open(port, { localAddress: '127.0.0.1' })).status).toBe(429);
    expect((await open(port, { localAddress: '127.0.0.2' })).status).toBe(101);
    expect(server.stats().handshakesRefused).toEqual({ 429: 3 });
  });
});

describe('handshakeTimeout (slowloris)', () => {
  it('drops a client that sends half a request line and stalls, while a normal client connects meanwhile', async () => {
    const TIMEOUT = 300;
    const { server, port, url } = await startServer(defer, { handshakeTimeout: TIMEOUT });
    const slow = net.connect({ port, host: '127.0.0.1' });
    defer(() => slow.destroy());
    slow.on('error', () => {});
    await once(slow, 'connect');
    const started = performance.now();
    slow.write('GET / HT');
    const slowClosed = socketClosed(slow);
    let slowData = 0;
    slow.on('data', (chunk: Buffer) => (slowData += chunk.length));

    await delay(50);
    const ws = await connect(url);
    defer(() => ws.terminate());
    ws.send('hello');
    const received = await new Promise<string>((resolve) => server.clients.forEach((c) => c.once('message', (d) => resolve(d.toString()))));
    expect(received).toBe('hello');

    await slowClosed;
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT - 10);
    expect(elapsed).toBeLessThan(TIMEOUT + SLACK);
    expect(slowData).toBe(0);
    // The normal connection outlived the timeout.
    await delay(TIMEOUT);
    expect(ws.readyState).toBe(ws.OPEN);
  });

  it('drops a client that connects and says nothing', async () => {
    const { port } = await startServer(defer, { handshakeTimeout: 200 });
    const silent = net.connect({ port, host: '127.0.0.1' });
    defer(() => silent.destroy());
    silent.on('error', () => {});
    await once(silent, 'connect');
    const started = performance.now();
    await socketClosed(silent);
    expect(performance.now() - started).toBeLessThan(200 + SLACK);
  });

  it('drops a client that sends headers one byte at a time, slower than the timeout allows', async () => {
    const { port } = await startServer(defer, { handshakeTimeout: 300 });
    const drip = net.connect({ port, host: '127.0.0.1' });
    defer(() => drip.destroy());
    drip.on('error', () => {});
    await once(drip, 'connect');
    const started = performance.now();
    const request = 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n' + 'X-Padding: slowly, slowly\r\n'.repeat(8); // 5 s at 20 ms a byte
    let i = 0;
    const timer = setInterval(() => !drip.destroyed && i < request.length && drip.write(request[i++]), 20);
    defer(() => clearInterval(timer));
    await socketClosed(drip);
    expect(performance.now() - started).toBeLessThan(300 + SLACK);
    expect(i).toBeLessThan(request.length);
  });
});

describe('rate limits', () => {
  it('messagesPerSecond: the message over the budget closes with 1008 (default policy)', async () => {
    const { server, port } = await startServer(defer, { rateLimit: { messagesPerSecond: 10 } });
    const connection = next<[WebSocket]>(server, 'connection');
    const peer = await open(port);
    const [ws] = await connection;
    const received: string[] = [];
    ws.on('message', (d) => received.push(d.toString()));
    // 12 messages in one write: the bucket holds 10, so the 11th trips it.
    peer.send(Buffer.concat(Array.from({ length: 12 }, (_, i) => frame(OP.text, `m${i}`))));
    const close = await peer.next(OP.close);
    expect(close.payload.readUInt16BE(0)).toBe(1008);
    expect(close.payload.subarray(2).toString()).toMatch(/rate limit/i);
    expect(received).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    peer.send(closeFrame(1008));
    const [code] = await next<[number]>(ws, 'close');
    expect(code).toBe(1008);
  });

  it('bytesPerSecond: a message that does not fit the byte budget closes with 1008', async () => {
    const { server, port } = await startServer(defer, { rateLimit: { bytesPerSecond: 1000 } });
    const connection = next<[WebSocket]>(server, 'connection');
    const peer = await open(port);
    const [ws] = await connection;
    const sizes: number[] = [];
    ws.on('message', (d) => sizes.push(d.length));
    peer.send(Buffer.concat([frame(OP.binary, Buffer.alloc(600)), frame(OP.binary, Buffer.alloc(300)), frame(OP.binary, Buffer.alloc(300))]));
    const close = await peer.next(OP.close);
    expect(close.payload.readUInt16BE(0)).toBe(1008);
    expect(sizes).toEqual([600, 300]);
  });

  it("policy 'drop': over-budget messages are discarded with 'rateLimited' events and the connection stays open; the bucket refills", async () => {
    const { server, port } = await startServer(defer, { rateLimit: { messagesPerSecond: 5, policy: 'drop' } });
    const connection = next<[WebSocket]>(server, 'connection');
    const peer = await open(port);
    const [ws] = await connection;
    const received: string[] = [];
    const dropped: number[] = [];
    ws.on('message', (d) => received.push(d.toString()));
    ws.on('rateLimited', (size) => dropped.push(size));
    peer.send(Buffer.concat(Array.from({ length: 8 }, (_, i) => frame(OP.text, `message ${i}`))));
    await waitFor(() => received.length + dropped.length === 8, 2000, '8 messages handled');
    expect(received).toEqual(['message 0', 'message 1', 'message 2', 'message 3', 'message 4']);
    expect(dropped).toEqual([9, 9, 9]);
    expect(ws.readyState).toBe(ws.OPEN);
    expect(peer.frames.filter((f) => f.opcode === OP.close)).toHaveLength(0);

    // 5 a second: after 450 ms, two more fit (2.25 tokens), the third does not.
    await delay(450);
    peer.send(Buffer.concat(['a', 'b', 'c'].map((t) => frame(OP.text, t))));
    await waitFor(() => received.length + dropped.length === 11, 2000, '3 more messages handled');
    expect(received.slice(5)).toEqual(['a', 'b']);
    expect(dropped).toHaveLength(4);
    // The connection still works both ways.
    ws.send('still here');
    await peer.waitFor(() => peer.frames.some((f) => f.payload.toString() === 'still here'));
  });

  it('burstSeconds lets a connection spend several seconds of budget at once', async () => {
    const { server, port } = await startServer(defer, { rateLimit: { messagesPerSecond: 4, burstSeconds: 3, policy: 'drop' } });
    const connection = next<[WebSocket]>(server, 'connection');
    const peer = await open(port);
    const [ws] = await connection;
    let received = 0;
    let dropped = 0;
    ws.on('message', () => received++);
    ws.on('rateLimited', () => dropped++);
    peer.send(Buffer.concat(Array.from({ length: 15 }, () => frame(OP.text, 'x'))));
    await waitFor(() => received + dropped === 15, 2000, '15 messages handled');
    expect(received).toBe(12);
    expect(dropped).toBe(3);
  });
});
