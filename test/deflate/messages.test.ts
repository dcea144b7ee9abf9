/**
 * permessage-deflate over real sockets: our client ⇄ our server, and raw TCP peers that look at
 * (or forge) the bytes on the wire (RFC 7692 §6, §7.2; RFC 6455 §5.2 for RSV1).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect, type ServerOptions, type WebSocket } from '../../src/index.js';
import { Connection, type ConnectionEvents } from '../../src/protocol/connection.js';
import { zlibLimiter } from '../../src/protocol/extensions/limiter.js';
import { useCleanup } from '../helpers/cleanup.js';
import { compressedFrame, deflateMessage, frame, inflateMessage, messageDeflater, OP, RawClient, RSV1 } from '../helpers/raw.js';
import { startEchoServer, startServer } from '../helpers/server.js';
import { closed, delay, nextMessage, waitFor } from '../helpers/wait.js';
import { text, trackZlib, type ZlibTracker } from './zlib.js';

let tracker: ZlibTracker | null = null;
afterEach(() => {
  tracker?.stop();
  tracker = null;
});
// Registered after the tracker's afterEach, so it runs first (vitest runs afterEach hooks last
// registered first): what a test opened is closed while tracking is still on.
const defer = useCleanup();

function echoServer(perMessageDeflate: ServerOptions['perMessageDeflate'] = true, maxPayload?: number) {
  return startEchoServer(defer, { perMessageDeflate, maxPayload });
}

async function client(url: string, options: Parameters<typeof connect>[1] = {}): Promise<WebSocket> {
  const ws = await connect(url, options);
  defer(() => ws.terminate());
  return ws;
}

async function rawPeer(port: number, offer = 'permessage-deflate'): Promise<RawClient> {
  const peer = await RawClient.open(port, { extensions: offer });
  defer(() => peer.destroy());
  return peer;
}

describe('our client ⇄ our server', () => {
  it('negotiates by default once the server turns it on; the server has it off by default', async () => {
    const on = await echoServer(true);
    expect((await client(on.url)).extensions).toBe('permessage-deflate');
    const off = await startServer(defer);
    const [ws, serverSide] = await Promise.all([client(off.url), new Promise<WebSocket>((r) => off.server.once('connection', r))]);
    expect(ws.extensions).toBe('');
    expect(serverSide.extensions).toBe('');
  });

  it('whole messages both ways: text and binary, small and large', async () => {
    const { url } = await echoServer({ threshold: 0 });
    const ws = await client(url);
    const messages: Array<string | Buffer> = ['', 'a', text(100), text(300_000), Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.alloc(1 << 20, 0x5a)];
    for (const message of messages) {
      const reply = nextMessage(ws);
      ws.send(message);
      const { data, isBinary } = await reply;
      expect(isBinary).toBe(typeof message !== 'string');
      expect(data.equals(Buffer.from(message))).toBe(true);
    }
  });

  it('fragmented messages both ways (the server sends its echo in fragments too)', async () => {
    const started = await startServer(defer, { perMessageDeflate: true });
    started.server.on('connection', (ws) =>
      ws.on('message', (data, isBinary) => {
        const d = data as Buffer;
        const third = Math.floor(d.length / 3);
        ws.send(d.subarray(0, third), { binary: isBinary, fin: false });
        ws.send(d.subarray(third, 2 * third), { binary: isBinary, fin: false });
        ws.send(d.subarray(2 * third), { binary: isBinary, fin: true });
      }),
    );
    const ws = await client(started.url);
    for (const message of [text(5000, 1), text(70_000, 2)]) {
      const reply = nextMessage(ws);
      ws.send(message.slice(0, 2000), { fin: false });
      ws.send(message.slice(2000, 2100), { fin: false });
      ws.send(message.slice(2100), { fin: true });
      expect((await reply).data.toString()).toBe(message);
    }
    // An empty last fragment (RFC 7692 §7.2.3.6), then a message that depends on the context.
    const reply = nextMessage(ws);
    ws.send(text(3000, 3), { fin: false });
    ws.send('', { fin: true });
    expect((await reply).data.toString()).toBe(text(3000, 3));
    const again = nextMessage(ws);
    ws.send(text(3000, 3));
    expect((await again).data.toString()).toBe(text(3000, 3));
  });

  it('many pipelined compressed and plain messages arrive in order', async () => {
    const { url } = await echoServer({ threshold: 500 });
    const ws = await client(url, { perMessageDeflate: { threshold: 500 } });
    const messages = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? text(10 + i) : text(1000 + i * 50, i)));
    const received: string[] = [];
    ws.on('message', (data) => received.push(data.toString()));
    for (const m of messages) ws.send(m);
    await waitFor(() => received.length === messages.length, 10_000, 'echoes');
    expect(received).toEqual(messages);
  });
});

describe('on the wire (raw peer)', () => {
  it('context takeover: the same 1 KiB twice is much smaller the second time; not with server_no_context_takeover', async () => {
    const message = text(1024, 7);
    const started = await startServer(defer, { perMessageDeflate: true });
    started.server.on('connection', (ws) => {
      ws.send(message);
      ws.send(message);
    });
    const sizes = async (offer: string) => {
      const peer = await rawPeer(started.port, offer);
      const a = (await peer.read())!;
      const b = (await peer.read())!;
      expect(a.rsv1 && b.rsv1).toBe(true);
      expect(inflateMessage(a.payload).toString()).toBe(message);
      return [a.payload.length, b.payload.length];
    };
    const [first, second] = await sizes('permessage-deflate');
    expect(second).toBeLessThan(first / 4);
    const [alone1, alone2] = await sizes('permessage-deflate; server_no_context_takeover');
    expect(alone2).toBe(alone1);
    expect(alone2).toBeGreaterThan(second * 4);
  });

  it('our server inflates the raw peer\'s takeover stream across messages', async () => {
    const { port } = await echoServer(true);
    // Echoes come back each on its own (server_no_context_takeover), so they inflate alone here.
    const peer = await rawPeer(port, 'permessage-deflate; server_no_context_takeover');
    // One zlib stream for both messages: the second refers back into the first.
    const deflater = messageDeflater();
    const message = text(2000, 11);
    const first = await deflater.compress(message);
    const second = await deflater.compress(message);
    expect(second.length).toBeLessThan(first.length / 4);
    peer.send(frame(OP.text, first, { rsv: RSV1 }), frame(OP.text, second, { rsv: RSV1 }));
    for (let i = 0; i < 2; i++) {
      const echo = (await peer.read())!;
      expect(inflateMessage(echo.payload).toString()).toBe(message);
    }
    deflater.close();
  });

  it('threshold: below it RSV1 is clear and the payload plain; at or above it, compressed', async () => {
    const started = await startServer(defer, { perMessageDeflate: { threshold: 2000 } });
    started.server.on('connection', (ws) => {
      ws.send('x'.repeat(1999));
      ws.send('x'.repeat(2000));
    });
    const peer = await rawPeer(started.port);
    const small = (await peer.read())!;
    const large = (await peer.read())!;
    expect(small.rsv1).toBe(false);
    expect(small.payload.toString()).toBe('x'.repeat(1999));
    expect(large.rsv1).toBe(true);
    expect(inflateMessage(large.payload).toString()).toBe('x'.repeat(2000));
  });

  it('the default threshold is 1024 bytes', async () => {
    const started = await startServer(defer, { perMessageDeflate: true });
    started.server.on('connection', (ws) => {
      ws.send(Buffer.alloc(1023));
      ws.send(Buffer.alloc(1024));
    });
    const peer = await rawPeer(started.port);
    expect((await peer.read())!.rsv1).toBe(false);
    expect((await peer.read())!.rsv1).toBe(true);
  });

  it('fragments: RSV1 on the first frame only (RFC 7692 §6.1)', async () => {
    const started = await startServer(defer, { perMessageDeflate: { threshold: 0 } });
    started.server.on('connection', (ws) => {
      ws.send(text(3000, 1), { fin: false });
      ws.send(text(3000, 2), { fin: false });
      ws.send(text(3000, 3), { fin: true });
    });
    const peer = await rawPeer(started.port);
    const frames = [(await peer.read())!, (await peer.read())!, (await peer.read())!];
    expect(frames.map((f) => [f.opcode, f.rsv1, f.fin])).toEqual([
      [OP.text, true, false],
      [OP.cont, false, false],
      [OP.cont, false, true],
    ]);
    expect(inflateMessage(Buffer.concat(frames.map((f) => f.payload))).toString()).toBe(text(3000, 1) + text(3000, 2) + text(3000, 3));
  });

  it('a compressed message in fragments from the peer (RSV1 on the first only) is inflated whole', async () => {
    const { port } = await echoServer(true);
    const peer = await rawPeer(port);
    const message = text(5000, 4);
    const compressed = deflateMessage(message);
    const cut = [0, 10, 11, Math.floor(compressed.length / 2), compressed.length];
    peer.send(
      frame(OP.text, compressed.subarray(cut[0], cut[1]), { fin: false, rsv: RSV1 }),
      frame(OP.cont, compressed.subarray(cut[1], cut[2]), { fin: false }),
      frame(OP.ping, 'interleaved'),
      frame(OP.cont, compressed.subarray(cut[2], cut[3]), { fin: false }),
      frame(OP.cont, compressed.subarray(cut[3], cut[4]), { fin: true }),
    );
    const pong = (await peer.read())!;
    expect([pong.opcode, pong.rsv1, pong.payload.toString()]).toEqual([OP.pong, false, 'interleaved']);
    const echo = (await peer.read())!;
    expect(inflateMessage(echo.payload).toString()).toBe(message);
  });

  it('an uncompressed message (RSV1 clear) is fine on a connection with the extension', async () => {
    const { port } = await echoServer({ threshold: 100_000 });
    const peer = await rawPeer(port);
    peer.send(frame(OP.binary, Buffer.from([9, 8, 7])));
    const echo = (await peer.read())!;
    expect([echo.rsv1, [...echo.payload]]).toEqual([false, [9, 8, 7]]);
  });

  it('control frames are never compressed, whatever their size and the threshold', async () => {
    const started = await startServer(defer, { perMessageDeflate: { threshold: 0 } });
    started.server.on('connection', (ws) => {
      ws.ping(Buffer.alloc(125, 0x61));
      ws.pong(Buffer.alloc(125, 0x62));
      ws.send(Buffer.alloc(125, 0x63));
      ws.close(1000, 'a'.repeat(123));
    });
    const peer = await rawPeer(started.port);
    const frames = [(await peer.read())!, (await peer.read())!, (await peer.read())!, (await peer.read())!];
    expect(frames.map((f) => [f.opcode, f.rsv1])).toEqual([
      [OP.ping, false],
      [OP.pong, false],
      [OP.binary, true],
      [OP.close, false],
    ]);
    expect(frames[0].payload.equals(Buffer.alloc(125, 0x61))).toBe(true);
    expect(frames[3].payload.subarray(2).toString()).toBe('a'.repeat(123));
    // Our pong answering the peer's ping is plain too.
    peer.send(frame(OP.ping, Buffer.alloc(100, 0x64)));
  });

  it.each([
    ['a continuation frame', [compressedFrame(OP.text, 'he', { fin: false }), frame(OP.cont, Buffer.from([0]), { rsv: RSV1 })]],
    ['a ping', [frame(OP.ping, 'x', { rsv: RSV1 })]],
    ['a pong', [frame(OP.pong, '', { rsv: RSV1 })]],
    ['a close frame', [frame(OP.close, Buffer.from([0x03, 0xe8]), { rsv: RSV1 })]],
  ])('RSV1 on %s → close 1002 (RFC 7692 §6.1, RFC 6455 §5.2)', async (_, frames) => {
    const { port } = await echoServer(true);
    const peer = await rawPeer(port);
    expect(peer.extensions).toBe('permessage-deflate');
    peer.send(...frames);
    expect((await peer.untilClose()).code).toBe(1002);
  });

  it('RSV1 without the extension negotiated → close 1002', async () => {
    const { port } = await echoServer(false);
    const peer = await rawPeer(port);
    expect(peer.extensions).toBe('');
    peer.send(compressedFrame(OP.text, 'hello'));
    expect((await peer.untilClose()).code).toBe(1002);
  });

  it('RSV1 on a control frame in the middle of a compressed message → 1002', async () => {
    const { port } = await echoServer(true);
    const peer = await rawPeer(port);
    peer.send(compressedFrame(OP.binary, 'abc', { fin: false }), frame(OP.ping, '', { rsv: RSV1 }));
    expect((await peer.untilClose()).code).toBe(1002);
  });

  it('corrupt compressed data → close 1007, as ws does (the payload is not valid for its type)', async () => {
    const started = await echoServer(true);
    const serverSide = new Promise<WebSocket>((r) => started.server.once('connection', r));
    const peer = await rawPeer(started.port);
    const ws = await serverSide;
    const errors: Error[] = [];
    ws.on('error', (e) => errors.push(e));
    const serverClosed = closed(ws);
    peer.send(frame(OP.binary, Buffer.from([0xff, 0xfe, 0xfd, 0xfc]), { rsv: RSV1 }));
    expect((await peer.untilClose()).code).toBe(1007);
    expect((await serverClosed).code).toBe(1007);
    expect(errors[0]?.message).toMatch(/Invalid compressed data/);
  });

  it('compressed text that inflates to invalid UTF-8 → 1007', async () => {
    const { port } = await echoServer(true);
    const peer = await rawPeer(port);
    peer.send(compressedFrame(OP.text, Buffer.from([0x68, 0xc3, 0x28])));
    expect((await peer.untilClose()).code).toBe(1007);
  });

  it('a zip bomb (100 MB of zeros in ~100 KB) → 1009, inflating no more than maxPayload + one zlib chunk', async () => {
    tracker = trackZlib();
    const maxPayload = 1024 * 1024;
    const { port } = await echoServer(true, maxPayload);
    const bomb = deflateMessage(Buffer.alloc(100 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(maxPayload);
    const peer = await rawPeer(port);
    const before = process.memoryUsage().arrayBuffers;
    peer.send(frame(OP.binary, bomb, { rsv: RSV1 }));
    expect((await peer.untilClose()).code).toBe(1009);
    await delay(100);
    expect(tracker.inflatedBytes).toBeGreaterThan(maxPayload);
    expect(tracker.inflatedBytes).toBeLessThanOrEqual(maxPayload + 64 * 1024);
    // What memory held while it inflated: nowhere near the bomb's 100 MB.
    expect(tracker.peakArrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
    await waitFor(() => tracker!.open() === 0, 2000, 'zlib handles closed');
  });

  it('the compressed size is limited by maxPayload too, from the frame header', async () => {
    const { port } = await echoServer(true, 1000);
    const peer = await rawPeer(port);
    peer.send(frame(OP.binary, Buffer.alloc(1001), { rsv: RSV1 }));
    expect((await peer.untilClose()).code).toBe(1009);
  });
});

describe('safety under load', () => {
  it('200 connections each sending a compressed message at once: all complete, never more than 10 zlib jobs at a time', async () => {
    let peak = 0;
    const run = zlibLimiter.run;
    zlibLimiter.run = function (job) {
      run.call(this, () => {
        peak = Math.max(peak, zlibLimiter.active);
        job();
      });
    };
    defer(() => (zlibLimiter.run = run));
    const { url } = await echoServer(true);
    const clients = await Promise.all(Array.from({ length: 200 }, () => client(url)));
    const replies = clients.map((ws, i) => {
      const reply = nextMessage(ws, 30_000);
      ws.send(text(20_000, i));
      return reply;
    });
    const results = await Promise.all(replies);
    expect(results.map((r) => r.data.toString())).toEqual(clients.map((_, i) => text(20_000, i)));
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(zlibLimiter.concurrency);
    expect(zlibLimiter.active).toBe(0);
    expect(zlibLimiter.waiting).toBe(0);
  }, 30_000);

  it('compression contexts are freed on close: clean close, terminate, and protocol error', async () => {
    tracker = trackZlib();
    const started = await echoServer(true);
    const serverSockets: WebSocket[] = [];
    started.server.on('connection', (ws) => serverSockets.push(ws));
    const exchange = async (ws: WebSocket) => {
      const reply = nextMessage(ws);
      ws.send(text(5000));
      await reply;
    };
    // Clean close.
    const a = await client(started.url);
    await exchange(a);
    expect(tracker.open()).toBe(4); // deflater and inflater on each side, kept for takeover
    const aClosed = closed(a);
    a.close(1000);
    await aClosed;
    await waitFor(() => tracker!.open() === 0, 2000, 'contexts freed after a clean close');
    // Abrupt end.
    const b = await client(started.url);
    await exchange(b);
    expect(tracker.open()).toBe(4);
    const bServerClosed = closed(serverSockets[1]);
    b.terminate();
    await bServerClosed;
    await waitFor(() => tracker!.open() === 0, 2000, 'contexts freed after terminate');
    // Failure: a raw peer sends garbage after a good compressed message.
    const peer = await rawPeer(started.port);
    peer.send(compressedFrame(OP.text, text(5000)));
    await peer.read();
    expect(tracker.open()).toBe(2);
    peer.send(frame(0x3));
    expect((await peer.untilClose()).code).toBe(1002);
    await waitFor(() => tracker!.open() === 0, 2000, 'contexts freed after a protocol error');
    // Every stream ever made is closed.
    expect(tracker.deflaters.every((s) => s.destroyed) && tracker.inflaters.every((s) => s.destroyed)).toBe(true);
  });

  it('no zlib context at all on an idle connection without context takeover', async () => {
    tracker = trackZlib();
    const { url } = await echoServer({ serverNoContextTakeover: true, clientNoContextTakeover: true });
    const ws = await client(url);
    const reply = nextMessage(ws);
    ws.send(text(5000));
    await reply;
    expect(tracker.deflaters.length + tracker.inflaters.length).toBe(4);
    await waitFor(() => tracker!.open() === 0, 2000, 'contexts dropped after the message');
  });

  it('a compressed message still inflating when the connection goes is not delivered (no message after close)', async () => {
    const events: ConnectionEvents & { messages: Buffer[] } = {
      messages: [],
      output() {},
      resumeReading() {},
      message(data) {
        this.messages.push(data);
      },
      fragment() {},
      ping() {},
      pong() {},
      closed() {},
      failed() {},
    };
    const params = { deflateNoContextTakeover: false, inflateNoContextTakeover: false, deflateWindowBits: 15, inflateWindowBits: 15 };
    // Every zlib slot busy: the message waits for one.
    const busy = zlibLimiter.concurrency;
    for (let i = 0; i < busy; i++) zlibLimiter.run(() => {});
    const connection = new Connection('server', events, { deflate: { params, options: {} } });
    connection.receive(compressedFrame(OP.text, 'hello'));
    connection.destroy();
    for (let i = 0; i < busy; i++) zlibLimiter.done();
    // And one inflating when the transport goes.
    const second = new Connection('server', events, { deflate: { params, options: {} } });
    second.receive(compressedFrame(OP.text, 'world'));
    second.destroy();
    await delay(50);
    expect(events.messages.map(String)).toEqual([]);
    expect(zlibLimiter.active).toBe(0);
  });

  it('a message that arrived whole before the peer vanished is delivered before close, even mid-inflate', async () => {
    const started = await startServer(defer, { perMessageDeflate: true });
    const seen: string[] = [];
    started.server.on('connection', (ws) => {
      ws.on('message', () => seen.push('message'));
      ws.on('close', () => seen.push('close'));
    });
    const busy = zlibLimiter.concurrency;
    for (let i = 0; i < busy; i++) zlibLimiter.run(() => {});
    let released = false;
    try {
      const peer = await rawPeer(started.port);
      peer.send(compressedFrame(OP.text, text(3000)));
      await delay(50);
      peer.destroy();
      await delay(100);
      // The socket is gone, the message still waits for zlib: 'close' waits for it.
      expect(seen).toEqual([]);
      for (let i = 0; i < busy; i++) zlibLimiter.done();
      released = true;
      await waitFor(() => seen.includes('close'), 2000, 'close');
    } finally {
      if (!released) for (let i = 0; i < busy; i++) zlibLimiter.done();
    }
    await delay(50);
    expect(seen).toEqual(['message', 'close']);
  });
});

describe('send callbacks', () => {
  it('a compressed send calls back once written; after the peer is gone, with an error', async () => {
    const { url } = await echoServer(true);
    const ws = await client(url);
    const ok = await new Promise<Error | null | undefined>((resolve) => ws.send(text(5000), resolve));
    expect(ok).toBeFalsy();
    const spy = vi.fn();
    const gone = closed(ws);
    ws.terminate();
    await gone;
    ws.send(text(5000), spy);
    await waitFor(() => spy.mock.calls.length === 1, 2000, 'callback');
    expect(spy.mock.calls[0][0]).toBeInstanceOf(Error);
  });
});
