/**
 * Backpressure (send() → false, 'drain', bufferedAmount, maxBufferedAmount with its two policies)
 * against a raw peer that stops reading, and batching with ws.cork(fn) observed on the wire.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from '../../src/index.js';
import type { ServerRequest } from '../../src/node/server.js';
import { useCertificate } from '../helpers/certificate.js';
import { useCleanup } from '../helpers/cleanup.js';
import { closeFrame, OP, RawClient, serverFrameSize } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import { delay, next, SLACK, waitFor } from '../helpers/wait.js';

const defer = useCleanup();

const certificate = useCertificate();

/** A server and a raw peer that answers pings; `secure`: over TLS (wss://), on the fast path too. */
async function pair(options: Parameters<typeof startServer>[1] = {}, secure = false) {
  const tls = secure ? { key: certificate.key, cert: certificate.cert } : {};
  const { server, port } = await startServer(defer, { ...options, ...tls });
  const connection = next<[WebSocket, ServerRequest]>(server, 'connection');
  const peer = await RawClient.connect(port, { autoPong: true, tls: secure ? { ca: certificate.cert, servername: 'localhost' } : undefined });
  defer(() => peer.destroy());
  const [ws, req] = await connection;
  return { server, peer, ws, socket: req.socket as Socket };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Sends `size`-byte messages to a peer that does not read until the kernel buffers are full. */
async function fillKernel(ws: WebSocket, size: number, min = 256 * 1024): Promise<number> {
  let sent = 0;
  for (let round = 0; round < 10_000; round++) {
    for (let i = 0; i < 16; i++) {
      ws.send(Buffer.alloc(size));
      sent += serverFrameSize(size);
    }
    const before = ws.bufferedAmount;
    await tick();
    await delay(2);
    // Full: nothing left our buffer while we waited.
    if (before > min && ws.bufferedAmount === before) return sent;
  }
  throw new Error('the kernel never filled');
}

describe('send() and the high-water mark', () => {
  // The socket's own mark: 16 KiB on Node 20, 64 KiB from Node 22 on.
  it("returns false once the socket holds its high-water mark or more, and 'drain' follows", async () => {
    const { ws, peer, socket } = await pair();
    const mark = socket.writableHighWaterMark;
    expect(mark).toBeGreaterThanOrEqual(16 * 1024);
    const half = mark / 2;
    expect(ws.bufferedAmount).toBe(0);
    expect(ws.send(Buffer.alloc(half))).toBe(true);
    expect(ws.bufferedAmount).toBe(serverFrameSize(half));
    // Two halves plus their headers reach the mark.
    expect(ws.send(Buffer.alloc(half))).toBe(false);
    await next(ws, 'drain', 2000);
    expect(ws.bufferedAmount).toBe(0);
    await peer.waitFor(() => peer.bytesReceived === 2 * serverFrameSize(half));
  });

  it("a writer that waits for 'drain' after each false never has much more than the high-water mark waiting", async () => {
    const { ws, peer, socket } = await pair();
    const SIZE = 4096;
    const TOTAL = 2000;
    let maxBuffered = 0;
    for (let i = 0; i < TOTAL; i++) {
      const ok = ws.send(Buffer.alloc(SIZE, i & 0xff));
      maxBuffered = Math.max(maxBuffered, ws.bufferedAmount);
      if (!ok) await next(ws, 'drain', 5000);
    }
    expect(maxBuffered).toBeLessThan(socket.writableHighWaterMark + serverFrameSize(SIZE));
    await peer.waitFor(() => peer.frames.length === TOTAL, 10_000, 'all frames');
    expect(peer.frames.every((f, i) => f.payload.length === SIZE && f.payload[0] === (i & 0xff))).toBe(true);
  });
});

describe('bufferedAmount', () => {
  it('grows by exactly each frame size (header + payload) and is 0 once the peer has read everything', async () => {
    const { ws, peer, socket } = await pair();
    const sizes = [0, 1, 125, 126, 1000, 65535, 65536, 200_000];
    let expected = 0;
    for (const size of sizes) {
      ws.send(Buffer.alloc(size));
      expected += serverFrameSize(size);
      // Within one tick nothing has left yet unless the high-water mark made us flush.
      if (expected < socket.writableHighWaterMark) expect(ws.bufferedAmount).toBe(expected);
    }
    await peer.waitFor(() => peer.bytesReceived === expected, 5000, 'every byte');
    expect(peer.frames.map((f) => f.payload.length)).toEqual(sizes);
    await waitFor(() => ws.bufferedAmount === 0, 2000, 'bufferedAmount 0');
  });

  it('with a peer that reads nothing: once the kernel is full every send adds exactly its frame size; bytes sent = bufferedAmount + bytes in the kernel, and the peer gets exactly that total', async () => {
    const { ws, peer } = await pair();
    peer.socket.pause();
    let sent = await fillKernel(ws, 16 * 1024);
    const full = ws.bufferedAmount;
    const inKernel = sent - full;
    expect(inKernel).toBeGreaterThan(0);
    // Nothing moves while the peer reads nothing.
    await delay(100);
    expect(ws.bufferedAmount).toBe(full);
    // Each further send, in later ticks too, adds exactly its frame.
    for (const size of [10, 300, 70_000]) {
      const before = ws.bufferedAmount;
      expect(ws.send(Buffer.alloc(size))).toBe(false);
      sent += serverFrameSize(size);
      expect(ws.bufferedAmount - before).toBe(serverFrameSize(size));
      await delay(20);
      expect(ws.bufferedAmount - before).toBe(serverFrameSize(size));
    }
    expect(sent - ws.bufferedAmount).toBe(inKernel);

    // The peer reads again: at every moment, sent = bufferedAmount + what the peer read + what the
    // kernel holds (never negative), and once the peer has it all bufferedAmount is exactly 0.
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(sent - ws.bufferedAmount - peer.bytesReceived), 1);
    defer(() => clearInterval(sampler));
    peer.socket.resume();
    await peer.waitFor(() => peer.bytesReceived === sent, 10_000, 'every byte');
    clearInterval(sampler);
    expect(ws.bufferedAmount).toBe(0);
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.every((inFlight) => inFlight >= 0)).toBe(true);
    expect(peer.bytesReceived).toBe(sent);
  });
});

describe('maxBufferedAmount (a client that stops reading)', () => {
  const MAX = 256 * 1024;
  const SIZE = 16 * 1024;

  // lastOpenAt: the last moment the socket was seen open, so no close timer can have started before it.
  async function sendUntilRefused(ws: WebSocket): Promise<{ maxWhileOpen: number; accepted: number; lastOpenAt: number }> {
    let maxWhileOpen = 0;
    let accepted = 0;
    let lastOpenAt = performance.now();
    for (let i = 0; i < 100_000 && ws.readyState === ws.OPEN; i++) {
      lastOpenAt = performance.now();
      if (ws.send(Buffer.alloc(SIZE))) accepted++;
      else if (ws.readyState === ws.OPEN) accepted++; // over the high-water mark, but taken
      if (ws.readyState === ws.OPEN) maxWhileOpen = Math.max(maxWhileOpen, ws.bufferedAmount);
      if (i % 32 === 31) await tick();
    }
    return { maxWhileOpen, accepted, lastOpenAt };
  }

  for (const secure of [false, true]) {
    it(`default policy${secure ? ', over TLS' : ''}: closes with 1013 and terminates after closeTimeout when the close frame cannot get through; bufferedAmount never exceeds the cap + one message`, async () => {
      const CLOSE_TIMEOUT = 300;
      const { ws, peer, socket, server } = await pair({ backpressure: { maxBufferedAmount: MAX }, closeTimeout: CLOSE_TIMEOUT }, secure);
      peer.socket.pause();
      const closed = next<[number, Buffer, boolean]>(ws, 'close', 5000);
      const { maxWhileOpen, lastOpenAt: closing } = await sendUntilRefused(ws);
      expect(ws.readyState).toBe(ws.CLOSING);
      expect(maxWhileOpen).toBeGreaterThan(MAX - serverFrameSize(SIZE));
      expect(maxWhileOpen).toBeLessThanOrEqual(MAX + serverFrameSize(SIZE));
      // What the server holds for this socket is bounded too: the cap plus the close frame.
      expect(socket.writableLength).toBeLessThanOrEqual(MAX + serverFrameSize(SIZE) + 64);

      const [code, , wasClean] = await closed;
      const elapsed = performance.now() - closing;
      expect(code).toBe(1006);
      expect(wasClean).toBe(false);
      expect(elapsed).toBeGreaterThanOrEqual(CLOSE_TIMEOUT - 2); // timers may fire a millisecond early
      expect(elapsed).toBeLessThan(CLOSE_TIMEOUT + SLACK);
      expect(socket.destroyed).toBe(true);
      expect(server.clients.size).toBe(0);
      // Later sends are refused and allocate nothing on the socket.
      expect(ws.send('more')).toBe(false);
      expect(socket.writableLength).toBe(0);
    });
  }

  it('default policy: a peer that reads again in time gets every accepted message, then the 1013 close frame', async () => {
    const { ws, peer, server } = await pair({ backpressure: { maxBufferedAmount: MAX }, closeTimeout: 10_000 });
    peer.socket.pause();
    const { accepted } = await sendUntilRefused(ws);
    expect(ws.readyState).toBe(ws.CLOSING);
    peer.socket.resume();
    const close = await peer.next(OP.close, 10_000);
    expect(close.payload.readUInt16BE(0)).toBe(1013);
    expect(close.payload.subarray(2).toString()).toBe('Slow consumer');
    const data = peer.frames.filter((f) => f.opcode === OP.binary);
    expect(data).toHaveLength(accepted);
    expect(peer.frames.at(-1)!.opcode).toBe(OP.close);
    const closed = next<[number, Buffer, boolean]>(ws, 'close');
    peer.send(closeFrame(1013));
    const [code, , wasClean] = await closed;
    expect(code).toBe(1013);
    expect(wasClean).toBe(true);
    expect(server.stats().closeCodes).toEqual({ 1013: 1 });
  });

  it("policy 'drop': messages over the cap are dropped with 'dropped' events and the connection stays open", async () => {
    const { ws, peer } = await pair({ backpressure: { maxBufferedAmount: MAX, policy: 'drop' } });
    peer.socket.pause();
    await fillKernel(ws, SIZE, 64 * 1024);
    // Numbered messages from here on: the ones that fit are kept, in order; the rest are dropped.
    const dropped: number[] = [];
    ws.on('dropped', (size) => dropped.push(size));
    const kept: number[] = [];
    const callbacks: Array<Error | null | undefined> = [];
    let maxBuffered = 0;
    for (let i = 0; i < 64; i++) {
      const payload = Buffer.alloc(SIZE, 0);
      payload.writeUInt32BE(i + 1, 0);
      const ok = ws.send(payload, (error) => callbacks.push(error));
      maxBuffered = Math.max(maxBuffered, ws.bufferedAmount);
      if (ws.bufferedAmount <= MAX && dropped.length === 0) kept.push(i + 1);
      expect(ok).toBe(false);
    }
    expect(ws.readyState).toBe(ws.OPEN);
    expect(maxBuffered).toBeLessThanOrEqual(MAX + serverFrameSize(SIZE));
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped.every((size) => size === SIZE)).toBe(true);
    expect(kept.length + dropped.length).toBe(64);
    await tick();
    // A dropped message's callback gets an error.
    expect(callbacks.filter((e) => e instanceof Error)).toHaveLength(dropped.length);

    peer.socket.resume();
    ws.send('after');
    await peer.waitFor(() => peer.frames.some((f) => f.opcode === OP.text), 10_000, 'the text message');
    const numbered = peer.frames.filter((f) => f.opcode === OP.binary && f.payload.readUInt32BE(0) !== 0).map((f) => f.payload.readUInt32BE(0));
    expect(numbered).toEqual(kept);
    expect(peer.frames.filter((f) => f.opcode === OP.close)).toHaveLength(0);
    expect(ws.readyState).toBe(ws.OPEN);
  });
});

describe('ws.cork(fn)', () => {
  /**
   * Counts writes handed to the socket's libuv handle (one per write or writev), whichever path
   * writes: net.Socket's stream or the raw fast path.
   */
  function countWrites(socket: Socket): { count: number } {
    const counter = { count: 0 };
    const handle = (socket as unknown as { _handle: Record<string, (...args: unknown[]) => unknown> })._handle;
    for (const name of ['writeBuffer', 'writev', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'writeUcs2String']) {
      const original = handle[name];
      handle[name] = function (this: unknown, ...args: unknown[]) {
        counter.count++;
        return original.apply(this, args);
      };
    }
    return counter;
  }

  it('sends every frame written inside fn in one write, before cork returns; the peer gets them in one chunk', async () => {
    const { ws, peer, socket } = await pair();
    const writes = countWrites(socket);
    const messages = Array.from({ length: 20 }, (_, i) => `message ${i} `.repeat(i + 1));
    ws.cork(() => {
      for (const m of messages) ws.send(m);
      ws.send(Buffer.from([1, 2, 3]));
      ws.ping('p');
    });
    expect(writes.count).toBe(1);
    await peer.waitFor(() => peer.frames.length === 22, 2000, '22 frames');
    expect(writes.count).toBe(1);
    expect(peer.chunks).toHaveLength(1);
    expect(peer.frames.slice(0, 20).map((f) => f.payload.toString())).toEqual(messages);
    expect(peer.frames[21].opcode).toBe(OP.ping);
  });

  it('(control) frames sent in separate ticks are separate writes and separate chunks', async () => {
    const { ws, peer, socket } = await pair();
    const writes = countWrites(socket);
    for (let i = 0; i < 3; i++) {
      ws.send(`m${i}`);
      await peer.waitFor(() => peer.frames.length === i + 1);
    }
    expect(writes.count).toBe(3);
    expect(peer.chunks).toHaveLength(3);
  });

  it('a cork with large messages is still one writev', async () => {
    const { ws, peer, socket } = await pair();
    const writes = countWrites(socket);
    ws.cork(() => {
      for (let i = 0; i < 5; i++) ws.send(Buffer.alloc(3000, i));
    });
    expect(writes.count).toBe(1);
    await peer.waitFor(() => peer.frames.length === 5);
    expect(peer.frames.map((f) => f.payload[0])).toEqual([0, 1, 2, 3, 4]);
  });
});
