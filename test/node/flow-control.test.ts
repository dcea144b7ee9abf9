/**
 * What a server holds for a hostile peer, over real sockets: fragment floods, small fragments among
 * large reads, frames that declare more than they send, a compressed message that waits for zlib
 * while the peer keeps sending. Memory is measured as held (heap and ArrayBuffers after GC), with
 * bounds generous enough for noise and far below what an unbounded implementation holds.
 */
import type { ServerRequest } from '../../src/node/server.js';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { zlibLimiter } from '../../src/protocol/extensions/limiter.js';
import type { WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { heldBytes, MiB } from '../helpers/memory.js';
import { closePayload, frame, OP, RawClient } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import { closed, delay, waitFor } from '../helpers/wait.js';

const defer = useCleanup();

/** `count` copies of one frame, in one buffer. */
function repeat(one: Buffer, count: number): Buffer {
  return Buffer.concat(new Array<Buffer>(count).fill(one));
}

/** A server whose next connection is handed back with its request (and so its socket). */
async function serverWithPeer(options: Parameters<typeof startServer>[1] = {}, headers: string[] = []) {
  const started = await startServer(defer, { maxPayload: MiB, ...options });
  const accepted = new Promise<{ ws: WebSocket; req: ServerRequest }>((resolve) => started.server.once('connection', (ws, req) => resolve({ ws, req })));
  const peer = await RawClient.open(started.port, { headers }, defer);
  const { ws, req } = await accepted;
  return { ...started, peer, ws, req };
}

/** Writes `buffer` `times` times, waiting for the socket to drain as a well-behaved sender would. */
async function pump(peer: RawClient, buffer: Buffer, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    if (!peer.socket.write(buffer)) await new Promise((resolve) => peer.socket.once('drain', resolve));
  }
}

/** Resolves once the server has read `bytes` from this connection. */
function serverRead(req: ServerRequest, bytes: number): Promise<void> {
  return waitFor(() => req.socket.bytesRead >= bytes, 20_000, `server read ${bytes} bytes`);
}

describe('a partial message holds what arrived, not what was declared or how it was cut', () => {
  it('1,000,000 empty continuation frames hold nothing', async () => {
    const { peer, req } = await serverWithPeer();
    const before = heldBytes();
    const start = frame(OP.text, 'a', { fin: false });
    const empty = repeat(frame(OP.cont, '', { fin: false }), 10_000);
    peer.write(start);
    await pump(peer, empty, 100);
    await serverRead(req, start.length + empty.length * 100);
    const held = heldBytes() - before;
    // 6 bytes each on the wire; an object per fragment would be 12–100 MB.
    expect(held).toBeLessThan(4 * MiB);
    expect(peer.isClosed).toBe(false);
  });

  it('1-byte continuation frames cost their byte, and 1009 comes at maxPayload', async () => {
    const { peer, req, ws } = await serverWithPeer({ maxPayload: 512 * 1024 });
    const gone = closed(ws, 20_000);
    const before = heldBytes();
    const ones = repeat(frame(OP.cont, 'x', { fin: false }), 10_000);
    peer.write(frame(OP.text, 'a', { fin: false }));
    await pump(peer, ones, 30); // 300,000 bytes of payload, under maxPayload
    await serverRead(req, ones.length * 30);
    const held = heldBytes() - before;
    expect(held).toBeLessThan(4 * MiB);
    await pump(peer, ones, 30); // past it
    expect((await gone).code).toBe(1009);
    expect(await peer.closeCode()).toBe(1009);
  });

  it('a 1-byte fragment at the start of each 64 KiB read does not keep the read', async () => {
    const { peer, req } = await serverWithPeer();
    const before = heldBytes();
    // One 1-byte continuation, then unsolicited pongs (no answer due) filling 64 KiB.
    const pong = frame(OP.pong, 'p'.repeat(120));
    const write = Buffer.concat([frame(OP.cont, 'x', { fin: false }), repeat(pong, Math.floor((64 * 1024 - 7) / pong.length))]);
    peer.write(frame(OP.binary, 'a', { fin: false }));
    await pump(peer, write, 400);
    await serverRead(req, write.length * 400);
    const held = heldBytes() - before;
    // 400 bytes of message; 400 pinned reads would be 26 MB.
    expect(held).toBeLessThan(6 * MiB);
  });

  it('frames declaring 32 MiB with 10 bytes sent allocate nothing for the rest (40 connections)', async () => {
    const started = await startServer(defer, { maxPayload: 64 * MiB });
    const before = heldBytes();
    const peers: RawClient[] = [];
    for (let i = 0; i < 40; i++) {
      const peer = await RawClient.open(started.port, {}, defer);
      const head = frame(OP.binary, Buffer.alloc(10), { length: 32n * BigInt(MiB) });
      peer.write(head);
      peers.push(peer);
    }
    await delay(200);
    const held = heldBytes() - before;
    // Allocated from the header, this is 1.28 GB of ArrayBuffers.
    expect(held).toBeLessThan(16 * MiB);
    expect(peers.every((p) => !p.isClosed)).toBe(true);
  });

  it('a large message split across many reads still arrives whole and intact', async () => {
    const { peer, ws } = await serverWithPeer({ maxPayload: 8 * MiB });
    const payload = Buffer.alloc(3 * MiB);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const got = new Promise<Buffer>((resolve) => ws.once('message', (data: Buffer) => resolve(Buffer.from(data))));
    const bytes = frame(OP.binary, payload);
    // Odd-sized writes: pieces of every size, some small against their read, some large.
    for (let at = 0; at < bytes.length; at += 70_001) peer.write(bytes.subarray(at, at + 70_001));
    expect((await got).equals(payload)).toBe(true);
  });
});

describe('reading pauses while a compressed message waits for zlib', () => {
  it('the socket stops reading; messages then arrive in order, none lost', async () => {
    const { peer, req, ws } = await serverWithPeer({ perMessageDeflate: true }, ['Sec-WebSocket-Extensions: permessage-deflate']);
    const received: string[] = [];
    ws.on('message', (data: Buffer) => received.push(data.toString()));
    // Every zlib slot busy: the first compressed message cannot inflate.
    const busy = zlibLimiter.concurrency;
    for (let i = 0; i < busy; i++) zlibLimiter.run(() => {});
    let released = false;
    try {
      const before = heldBytes();
      peer.write(frame(OP.text, deflate('first'), { rsv: 4 }));
      const filler = repeat(frame(OP.text, 'y'.repeat(100)), 1000); // 106 KB of plain messages
      for (let i = 0; i < 300; i++) peer.socket.write(filler); // 32 MB, not waiting for drain
      await delay(500);
      const read = req.socket.bytesRead;
      await delay(200);
      // Paused: nothing more read, and what was read is a few socket buffers, not 32 MB.
      expect(req.socket.bytesRead).toBe(read);
      expect(read).toBeLessThan(8 * MiB);
      expect(heldBytes() - before).toBeLessThan(8 * MiB);
      expect(received).toEqual([]);
      for (let i = 0; i < busy; i++) zlibLimiter.done();
      released = true;
      await waitFor(() => received.length === 1 + 300 * 1000, 20_000, 'every message');
      expect(received[0]).toBe('first');
      expect(received[1]).toBe('y'.repeat(100));
    } finally {
      if (!released) for (let i = 0; i < busy; i++) zlibLimiter.done();
    }
  });

  it('ws.pause() stops reading at once, and resume() delivers what waited', async () => {
    const { peer, req, ws } = await serverWithPeer();
    const received: string[] = [];
    ws.on('message', (data: Buffer) => {
      received.push(data.toString());
      if (received.length === 1) ws.pause();
    });
    const messages = repeat(frame(OP.text, 'z'.repeat(50)), 2000);
    for (let i = 0; i < 100; i++) peer.socket.write(messages);
    await delay(300);
    // Paused inside the first message's listener: nothing else from that read was delivered.
    expect(received).toHaveLength(1);
    expect(ws.isPaused).toBe(true);
    const read = req.socket.bytesRead;
    await delay(200);
    expect(req.socket.bytesRead).toBe(read);
    ws.resume();
    expect(ws.isPaused).toBe(false);
    await waitFor(() => received.length === 200_000, 20_000, 'every message after resume');
  });
});

describe('nothing lost at the end', () => {
  it('a compressed message in the same chunk as the close frame and the FIN is delivered, then close 1000', async () => {
    const { peer, ws } = await serverWithPeer({ perMessageDeflate: true }, ['Sec-WebSocket-Extensions: permessage-deflate']);
    const received: string[] = [];
    ws.on('message', (data: Buffer) => received.push(data.toString()));
    const gone = closed(ws);
    peer.socket.end(Buffer.concat([frame(OP.text, deflate('goodbye'), { rsv: 4 }), frame(OP.close, closePayload(1000, 'bye'))]));
    const { code, reason } = await gone;
    expect(received).toEqual(['goodbye']);
    expect(code).toBe(1000);
    expect(reason).toBe('bye');
  });
});

function deflate(text: string): Buffer {
  const out = zlib.deflateRawSync(Buffer.from(text), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}
