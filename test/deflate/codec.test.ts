/**
 * The zlib codec (RFC 7692 §7.2) and the process-wide limiter, without sockets.
 */
import * as zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/protocol/constants.js';
import { DeflateCodec } from '../../src/protocol/extensions/deflate-codec.js';
import { Limiter, zlibLimiter } from '../../src/protocol/extensions/limiter.js';
import type { DeflateOptions, DeflateParams } from '../../src/protocol/extensions/permessage-deflate.js';
import type { ProtocolError } from '../../src/protocol/errors.js';
import { deflateMessage, inflateMessage } from '../helpers/raw.js';
import { text, trackZlib, type ZlibTracker } from './zlib.js';

const TAKEOVER: DeflateParams = { deflateNoContextTakeover: false, inflateNoContextTakeover: false, deflateWindowBits: 15, inflateWindowBits: 15 };
const NO_TAKEOVER: DeflateParams = { deflateNoContextTakeover: true, inflateNoContextTakeover: true, deflateWindowBits: 15, inflateWindowBits: 15 };

function codec(params = TAKEOVER, options: DeflateOptions = {}, maxPayload = 64 * 1024 * 1024): DeflateCodec {
  return new DeflateCodec(params, options, maxPayload);
}

function compress(c: DeflateCodec, data: Uint8Array | string, fin = true): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    c.compress(typeof data === 'string' ? Buffer.from(data) : data, fin, (error, out) => (error ? reject(error) : resolve(out))),
  );
}

function decompress(c: DeflateCodec, data: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => c.decompress(Buffer.from(data), (error, out) => (error ? reject(error) : resolve(out))));
}

let tracker: ZlibTracker | null = null;
afterEach(() => {
  tracker?.stop();
  tracker = null;
});

describe('DeflateCodec: RFC 7692 §7.2.3 examples', () => {
  it('§7.2.3.1 "Hello" compressed, one message', async () => {
    expect((await decompress(codec(), Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]))).toString()).toBe('Hello');
  });

  it('§7.2.3.2 the same "Hello" twice with context takeover: the second refers back to the first', async () => {
    const c = codec();
    expect((await decompress(c, Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]))).toString()).toBe('Hello');
    expect((await decompress(c, Buffer.from([0xf2, 0x00, 0x11, 0x00, 0x00]))).toString()).toBe('Hello');
    // And we produce exactly those bytes.
    const d = codec();
    expect([...(await compress(d, 'Hello'))]).toEqual([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    expect([...(await compress(d, 'Hello'))]).toEqual([0xf2, 0x00, 0x11, 0x00, 0x00]);
  });

  it('§7.2.3.2 without context takeover the second "Hello" is compressed alone again', async () => {
    const c = codec(NO_TAKEOVER);
    expect([...(await compress(c, 'Hello'))]).toEqual([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    expect([...(await compress(c, 'Hello'))]).toEqual([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
  });

  it('§7.2.3.3 a stored (uncompressed) block', async () => {
    const data = Buffer.from([0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]);
    expect((await decompress(codec(), data)).toString()).toBe('Hello');
  });

  it('§7.2.3.4 two DEFLATE blocks in one message', async () => {
    const data = Buffer.from([0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00]);
    expect((await decompress(codec(), data)).toString()).toBe('Hello');
  });

  it('§7.2.3.5 a block with BFINAL set', async () => {
    const data = Buffer.from([0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]);
    expect((await decompress(codec(NO_TAKEOVER), data)).toString()).toBe('Hello');
  });

  it('§7.2.3.6 an empty final fragment is sent as 0x00, and the context survives it', async () => {
    const sender = codec();
    const receiver = codec();
    const first = await compress(sender, 'Hello', false);
    expect([...first.subarray(-4)]).toEqual([0x00, 0x00, 0xff, 0xff]);
    const last = await compress(sender, Buffer.alloc(0), true);
    expect([...last]).toEqual([0x00]);
    expect((await decompress(receiver, Buffer.concat([first, last]))).toString()).toBe('Hello');
    // Context takeover still lines up on both ends.
    expect((await decompress(receiver, await compress(sender, 'Hello'))).toString()).toBe('Hello');
  });

  it('an empty message after a compressed one (threshold 0) keeps both contexts in step', async () => {
    const sender = codec();
    const receiver = codec();
    for (const message of ['Hello', '', '', 'Hello again', '']) {
      const out = await compress(sender, message);
      expect(out.length).toBeGreaterThan(0);
      expect((await decompress(receiver, out)).toString()).toBe(message);
    }
  });
});

describe('DeflateCodec: messages', () => {
  it('round-trips whole messages, text and binary, with zlib on the other end', async () => {
    const c = codec(NO_TAKEOVER);
    const message = text(50_000);
    const out = await compress(c, message);
    expect(out.length).toBeLessThan(message.length / 3);
    expect([...out.subarray(-4)]).not.toEqual([0x00, 0x00, 0xff, 0xff]);
    expect(inflateMessage(out).toString()).toBe(message);
    const random = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24));
    expect(await decompress(c, deflateMessage(random))).toEqual(random);
  });

  it('fragments: each keeps its sync-flush trailer except the last (§7.2.1)', async () => {
    const sender = codec();
    const parts = [text(3000, 1), text(3000, 2), text(10, 3)];
    const out = [await compress(sender, parts[0], false), await compress(sender, parts[1], false), await compress(sender, parts[2], true)];
    expect([...out[0].subarray(-4)]).toEqual([0, 0, 0xff, 0xff]);
    expect([...out[1].subarray(-4)]).toEqual([0, 0, 0xff, 0xff]);
    expect((await decompress(codec(), Buffer.concat(out))).toString()).toBe(parts.join(''));
  });

  it('context takeover: the same 1 KiB sent twice is much smaller the second time; without takeover it is not', async () => {
    const message = text(1024, 9);
    const withTakeover = codec(TAKEOVER);
    const a1 = await compress(withTakeover, message);
    const a2 = await compress(withTakeover, message);
    expect(a2.length).toBeLessThan(a1.length / 4);
    const without = codec(NO_TAKEOVER);
    const b1 = await compress(without, message);
    const b2 = await compress(without, message);
    expect(b2.length).toBe(b1.length);
    // Each side decodes its own stream in order.
    const r = codec(TAKEOVER);
    expect((await decompress(r, a1)).toString()).toBe(message);
    expect((await decompress(r, a2)).toString()).toBe(message);
  });

  it('window bits and memLevel/level options reach zlib', async () => {
    tracker = trackZlib();
    const c = codec({ ...TAKEOVER, deflateWindowBits: 9, inflateWindowBits: 10 }, { level: 1, memLevel: 2 });
    const message = text(20_000);
    const out = await compress(c, message);
    // With a 9-bit window nothing can refer more than 512 bytes back: zlib with a 9-bit window inflates it.
    expect(inflateMessageWithWindow(out, 9).toString()).toBe(message);
    expect(tracker.deflaters).toHaveLength(1);
    const handle = tracker.deflaters[0] as unknown as { _level: number; _strategy: number };
    expect(handle._level).toBe(1);
    // Input compressed with a 15-bit window does not fit a 10-bit inflater.
    const wide = deflateMessage(Buffer.concat([Buffer.from(text(40_000, 4)), Buffer.from(text(40_000, 4))]));
    await expect(decompress(c, wide)).rejects.toMatchObject({ code: CloseCode.InvalidPayload });
  });

  it('level 0 stores, level 9 compresses better than level 1', async () => {
    const message = text(100_000, 5);
    const stored = await compress(codec(NO_TAKEOVER, { level: 0 }), message);
    const fast = await compress(codec(NO_TAKEOVER, { level: 1 }), message);
    const best = await compress(codec(NO_TAKEOVER, { level: 9 }), message);
    expect(stored.length).toBeGreaterThan(Buffer.byteLength(message));
    expect(best.length).toBeLessThan(fast.length);
  });

  it('the threshold defaults to 1024 and follows the option', () => {
    expect(codec().threshold).toBe(1024);
    expect(codec(TAKEOVER, { threshold: 0 }).threshold).toBe(0);
  });

  it('corrupt data fails with 1007 (as ws does) and the next message starts afresh', async () => {
    const c = codec();
    const error = await decompress(c, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00])).catch((e: ProtocolError) => e);
    expect(error).toMatchObject({ code: CloseCode.InvalidPayload });
    expect((await decompress(c, deflateMessage('fine'))).toString()).toBe('fine');
  });

  it('a zip bomb fails with 1009 before it is inflated: at most maxPayload + one zlib chunk comes out', async () => {
    tracker = trackZlib();
    const maxPayload = 1024 * 1024;
    const bomb = deflateMessage(Buffer.alloc(100 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(200 * 1024);
    const c = codec(TAKEOVER, {}, maxPayload);
    const error = await decompress(c, bomb).catch((e: ProtocolError) => e);
    expect(error).toMatchObject({ code: CloseCode.MessageTooBig });
    // Let anything still queued in zlib run out.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(tracker.inflatedBytes).toBeGreaterThan(maxPayload);
    expect(tracker.inflatedBytes).toBeLessThanOrEqual(maxPayload + 64 * 1024);
    expect(tracker.open()).toBe(0);
  });

  it('a message of exactly maxPayload inflated passes; one byte more fails', async () => {
    const maxPayload = 100_000;
    const c = codec(NO_TAKEOVER, {}, maxPayload);
    expect((await decompress(c, deflateMessage(Buffer.alloc(maxPayload, 7)))).length).toBe(maxPayload);
    await expect(decompress(c, deflateMessage(Buffer.alloc(maxPayload + 1, 7)))).rejects.toMatchObject({ code: CloseCode.MessageTooBig });
  });

  it('no_context_takeover drops the zlib contexts after each message; takeover keeps them until close', async () => {
    tracker = trackZlib();
    const without = codec(NO_TAKEOVER);
    await decompress(without, await compress(without, text(2000)));
    expect(tracker.deflaters.length + tracker.inflaters.length).toBe(2);
    expect(tracker.open()).toBe(0);
    const withTakeover = codec(TAKEOVER);
    await decompress(withTakeover, await compress(withTakeover, text(2000)));
    expect(tracker.open()).toBe(2);
    withTakeover.close();
    expect(tracker.open()).toBe(0);
  });

  it('close() waits for work in flight, then frees the contexts', async () => {
    tracker = trackZlib();
    const c = codec();
    const pending = compress(c, text(200_000));
    c.close();
    expect((await pending).length).toBeGreaterThan(0);
    expect(tracker.open()).toBe(0);
  });

  it('runs one operation per direction at a time, in order', async () => {
    const sender = codec();
    const messages = Array.from({ length: 20 }, (_, i) => text(500 + i * 100, i));
    const compressed = await Promise.all(messages.map((m) => compress(sender, m)));
    const receiver = codec();
    const inflated = await Promise.all(compressed.map((m) => decompress(receiver, m)));
    expect(inflated.map(String)).toEqual(messages);
  });
});

describe('Limiter', () => {
  it('runs at most `concurrency` jobs; the rest wait, in order', () => {
    const limiter = new Limiter(2);
    const started: number[] = [];
    for (let i = 0; i < 5; i++) limiter.run(() => started.push(i));
    expect(started).toEqual([0, 1]);
    expect(limiter.active).toBe(2);
    expect(limiter.waiting).toBe(3);
    limiter.done();
    expect(started).toEqual([0, 1, 2]);
    expect(limiter.active).toBe(2);
    limiter.done();
    limiter.done();
    limiter.done();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(limiter.active).toBe(1);
    limiter.done();
    expect(limiter.active).toBe(0);
    expect(limiter.waiting).toBe(0);
  });

  it('the shared limiter is capped at 10 and idle between tests', () => {
    expect(zlibLimiter.concurrency).toBe(10);
    expect(zlibLimiter.active).toBe(0);
  });

  it('many codecs at once never hold more than the cap', async () => {
    let peak = 0;
    const run = zlibLimiter.run;
    zlibLimiter.run = function (job) {
      run.call(this, () => {
        peak = Math.max(peak, zlibLimiter.active);
        job();
      });
    };
    try {
      const codecs = Array.from({ length: 100 }, () => codec());
      const results = await Promise.all(codecs.map((c, i) => compress(c, text(20_000, i)).then((out) => decompress(c, out))));
      expect(results.map(String)).toEqual(codecs.map((_, i) => text(20_000, i)));
    } finally {
      zlibLimiter.run = run;
    }
    expect(peak).toBe(10);
    expect(zlibLimiter.active).toBe(0);
  });
});

function inflateMessageWithWindow(data: Buffer, windowBits: number): Buffer {
  const input = Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]);
  return zlib.inflateRawSync(input, { windowBits, finishFlush: zlib.constants.Z_SYNC_FLUSH });
}

describe('DeflateCodec: a zlib failure while compressing', () => {
  it("is an error to the callback (1011), not an unheard 'error' event that crashes the process", async () => {
    const c = codec();
    const result = compress(c, 'x'.repeat(2000));
    // The deflater exists once the job started; zlib reports failures (out of memory…) this way.
    const deflater = (c as unknown as { deflater: zlib.DeflateRaw }).deflater;
    deflater.emit('error', new Error('zlib failed'));
    const error = (await result.then(() => null, (e: ProtocolError) => e))!;
    expect(error).not.toBeNull();
    expect(error.code).toBe(CloseCode.InternalError);
    expect(zlibLimiter.active).toBe(0);
    // The codec goes on with a fresh deflater.
    expect(inflateMessage(await compress(c, 'again')).toString()).toBe('again');
  });
});
