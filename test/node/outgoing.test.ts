/**
 * The one outgoing queue, over real sockets: pongs, frames published during a fragmented send and
 * messages refused by the backpressure policy are all inside `maxBufferedAmount` and `bufferedAmount`;
 * a message is admitted or refused whole; every send callback is called exactly once; the
 * slow-consumer ending says why.
 */
import type { ServerRequest } from '../../src/node/server.js';
import { describe, expect, it } from 'vitest';
import { connect, type WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { heldBytes, MiB } from '../helpers/memory.js';
import { frame, OP, RawClient, type RawFrame } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import { closed, delay, waitFor } from '../helpers/wait.js';

const defer = useCleanup();

async function serverWithPeer(options: Parameters<typeof startServer>[1] = {}) {
  const started = await startServer(defer, options);
  const accepted = new Promise<{ ws: WebSocket; req: ServerRequest }>((resolve) => started.server.once('connection', (ws, req) => resolve({ ws, req })));
  const peer = await RawClient.open(started.port, {}, defer);
  const { ws, req } = await accepted;
  return { ...started, peer, ws, req };
}

/** Data messages from raw frames: [text or binary, payload], and whether one was left unfinished. */
function messagesOf(frames: RawFrame[]): { messages: Array<[number, Buffer]>; unfinished: boolean } {
  const messages: Array<[number, Buffer]> = [];
  let current: { opcode: number; parts: Buffer[] } | null = null;
  for (const f of frames) {
    if (f.opcode >= 0x8) continue;
    if (f.opcode !== OP.cont) current = { opcode: f.opcode, parts: [] };
    current!.parts.push(f.payload);
    if (f.fin) {
      messages.push([current!.opcode, Buffer.concat(current!.parts)]);
      current = null;
    }
  }
  return { messages, unfinished: current !== null };
}

const FILLER = 16 * MiB;

describe('pongs are inside the queue', () => {
  it('a ping flood from a peer that never reads holds one pong, not one per ping', async () => {
    const { peer, req, ws } = await serverWithPeer({ backpressure: { maxBufferedAmount: MiB } });
    peer.socket.pause();
    const before = heldBytes();
    const pings = Buffer.concat(new Array(1000).fill(frame(OP.ping, 'p'.repeat(125))));
    for (let i = 0; i < 300; i++) peer.socket.write(pings); // 300,000 pings: 38 MB of pongs owed
    await waitFor(() => req.socket.bytesRead >= pings.length * 300, 20_000, 'every ping read');
    expect(ws.bufferedAmount).toBeLessThan(2 * MiB);
    expect(heldBytes() - before).toBeLessThan(12 * MiB);
    expect(ws.readyState).toBe(ws.OPEN);
    // Once the peer reads, the pong owed goes out with the latest ping's payload.
    peer.socket.resume();
    await waitFor(() => ws.bufferedAmount === 0, 10_000, 'queue drained');
  });

  it('pings count against the rate limit: a ping flood is closed with 1008', async () => {
    const { peer } = await serverWithPeer({ rateLimit: { messagesPerSecond: 50 } });
    peer.write(Buffer.concat(new Array(500).fill(frame(OP.ping, 'x'))));
    expect(await peer.closeCode()).toBe(1008);
    // At most the burst was answered.
    expect(peer.frames.filter((f) => f.opcode === OP.pong).length).toBeLessThanOrEqual(50);
  });
});

describe('frames published during a fragmented send', () => {
  it('wait in the queue, counted by bufferedAmount and under maxBufferedAmount, and follow the message', async () => {
    const { server, peer, ws } = await serverWithPeer({ backpressure: { maxBufferedAmount: MiB, policy: 'drop' } });
    let dropped = 0;
    ws.on('dropped', () => dropped++);
    ws.send('part', { fin: false });
    const payload = Buffer.alloc(32 * 1024, 7);
    for (let i = 0; i < 200; i++) server.broadcast(payload);
    // Held behind the message, counted, and bounded: the rest were dropped.
    const admitted = 200 - dropped;
    expect(dropped).toBeGreaterThan(0);
    expect(ws.bufferedAmount).toBeGreaterThanOrEqual(admitted * payload.length);
    expect(ws.bufferedAmount).toBeLessThanOrEqual(MiB + payload.length + 64);
    ws.send('end');
    await peer.waitFor(() => messagesOf(peer.frames).messages.length === 1 + admitted, 5000, 'message then broadcasts');
    const { messages } = messagesOf(peer.frames);
    expect(messages[0]).toEqual([OP.text, Buffer.from('partend')]);
    expect(messages.slice(1).every(([opcode, data]) => opcode === OP.binary && data.equals(payload))).toBe(true);
  });
});

describe('a message is admitted or refused whole', () => {
  it("'drop': a message refused at its first fragment is refused to its end; the next one is whole", async () => {
    const { peer, ws } = await serverWithPeer({ backpressure: { maxBufferedAmount: MiB, policy: 'drop' } });
    peer.socket.pause();
    ws.send(Buffer.alloc(FILLER)); // taken: the queue was empty
    await delay(50);
    const errors: Array<Error | null | undefined> = [];
    expect(ws.send('A', { fin: false }, (e) => errors.push(e))).toBe(false);
    expect(ws.send('B', { fin: false }, (e) => errors.push(e))).toBe(false);
    expect(ws.send('C', (e) => errors.push(e))).toBe(false);
    await waitFor(() => errors.length === 3, 2000, 'three callbacks');
    expect(errors.every((e) => e instanceof Error)).toBe(true);
    peer.socket.resume();
    await waitFor(() => ws.bufferedAmount === 0, 10_000, 'filler sent');
    ws.send('hello');
    await peer.waitFor(() => messagesOf(peer.frames).messages.length === 2, 5000, 'two messages');
    const { messages, unfinished } = messagesOf(peer.frames);
    expect(messages[1]).toEqual([OP.text, Buffer.from('hello')]);
    expect(unfinished).toBe(false);
  });

  it("a fragment refused after the message began closes with 1013: never a message missing its middle, never the next send as its tail", async () => {
    const { peer, ws } = await serverWithPeer({ backpressure: { maxBufferedAmount: MiB, policy: 'drop' }, closeTimeout: 300 });
    peer.socket.pause();
    const gone = closed(ws, 5000);
    const errors: Array<Error | null | undefined> = [];
    ws.send('A', { fin: false });
    ws.send(Buffer.alloc(FILLER), { fin: false }); // taken: nothing was waiting
    await delay(50);
    expect(ws.send('B', { fin: false }, (e) => errors.push(e))).toBe(false);
    expect(ws.send('C', (e) => errors.push(e))).toBe(false);
    peer.socket.resume();
    expect(ws.send('hello')).toBe(false);
    const { code } = await gone;
    expect([1006, 1013]).toContain(code);
    await waitFor(() => errors.length === 2, 2000, 'callbacks');
    expect(errors.every((e) => e instanceof Error)).toBe(true);
    await delay(100);
    const { messages } = messagesOf(peer.frames);
    expect(messages).toEqual([]);
  });

  it('other sends during sendStream() throw; the stream arrives as one message', async () => {
    const { peer, ws } = await serverWithPeer();
    async function* pieces() {
      for (const piece of ['one ', 'two ', 'three']) {
        await delay(20);
        yield piece;
      }
    }
    const streaming = ws.sendStream(pieces());
    await delay(30);
    expect(() => ws.send('intruder')).toThrow(/sendStream/);
    await expect(ws.sendStream(['again'])).rejects.toThrow(/sendStream/);
    await streaming;
    ws.send('after');
    await peer.waitFor(() => messagesOf(peer.frames).messages.length === 2, 5000, 'two messages');
    expect(messagesOf(peer.frames).messages.map(([, data]) => data.toString())).toEqual(['one two three', 'after']);
  });

  it('a source that fails after fragments went out closes with 1011; the peer never gets a cut message', async () => {
    const { peer, ws } = await serverWithPeer();
    async function* failing() {
      yield 'first ';
      yield 'second ';
      throw new Error('source broke');
    }
    await expect(ws.sendStream(failing())).rejects.toThrow('source broke');
    expect(await peer.closeCode()).toBe(1011);
    expect(messagesOf(peer.frames).messages).toEqual([]);
  });
});

describe('every send callback is called exactly once', () => {
  for (const side of ['server', 'client'] as const) {
    it(`${side}: send(…, cb) then terminate(): each callback gets an error`, async () => {
      const started = await startServer(defer);
      const accepted = new Promise<WebSocket>((resolve) => started.server.once('connection', resolve));
      const client = await connect(started.url, { perMessageDeflate: false });
      defer(() => client.terminate());
      const server = await accepted;
      const ws = side === 'server' ? server : client;
      const calls: Array<Error | null | undefined> = [];
      for (let i = 0; i < 100; i++) ws.send(`message ${i}`, (error) => calls.push(error));
      ws.terminate();
      await waitFor(() => calls.length === 100, 2000, 'a hundred callbacks');
      await delay(50);
      expect(calls).toHaveLength(100);
      expect(calls.every((e) => e instanceof Error)).toBe(true);
    });
  }
});

describe('endings say why', () => {
  it("a slow consumer that never reads the close frame ends as 1006 'Slow consumer'", async () => {
    const { peer, ws } = await serverWithPeer({ backpressure: { maxBufferedAmount: MiB }, closeTimeout: 200 });
    peer.socket.pause();
    const gone = closed(ws, 5000);
    ws.send(Buffer.alloc(FILLER));
    await delay(50);
    ws.send(Buffer.alloc(1024));
    expect(await gone).toEqual({ code: 1006, reason: 'Slow consumer', wasClean: false });
  });
});

describe('a client sending its own burst is not a slow consumer', () => {
  it('two 16 MiB sends in a row from a fresh client both arrive', async () => {
    const started = await startServer(defer, { maxPayload: 32 * MiB });
    const sizes: number[] = [];
    started.server.on('connection', (ws) => ws.on('message', (data: Buffer) => sizes.push(data.length)));
    const ws = await connect(started.url, { perMessageDeflate: false });
    defer(() => ws.terminate());
    expect(() => {
      ws.send(Buffer.alloc(FILLER));
      ws.send(Buffer.alloc(FILLER));
    }).not.toThrow();
    await waitFor(() => sizes.length === 2, 10_000, 'both messages');
    expect(sizes).toEqual([FILLER, FILLER]);
    expect(ws.readyState).toBe(ws.OPEN);
  });
});
