/**
 * perMessageDeflate options, server and client: each one has its effect on the handshake and on
 * the bytes on the wire. And `rfc6455 echo --deflate`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, HandshakeError, type DeflateOptions, type WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { compressedFrame, frame, inflateMessage, messageDeflater, OP, RawClient, RawServer, RSV1 } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { text, trackZlib, type ZlibTracker } from './zlib.js';

let tracker: ZlibTracker | null = null;
afterEach(() => {
  tracker?.stop();
  tracker = null;
});
// Registered after the tracker's afterEach, so it runs first (vitest runs afterEach hooks last
// registered first): what a test opened is closed while tracking is still on.
const defer = useCleanup();

/** A server with `options` that sends `messages` to each client as it connects. */
async function sendingServer(options: boolean | DeflateOptions, messages: Array<string | Buffer>) {
  const started = await startServer(defer, { perMessageDeflate: options });
  started.server.on('connection', (ws) => {
    for (const m of messages) ws.send(m);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  return started;
}

async function peer(port: number, offer: string): Promise<RawClient> {
  const p = await RawClient.open(port, { extensions: offer });
  defer(() => p.destroy());
  return p;
}

async function frames(p: RawClient, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push((await p.read())!);
  return out;
}

function rawServer(respond: (offer: string) => string | null): Promise<RawServer> {
  return RawServer.start(defer, { extensions: respond });
}

async function client(url: string, options: Parameters<typeof connect>[1] = {}): Promise<WebSocket> {
  const ws = await connect(url, options);
  defer(() => ws.terminate());
  return ws;
}

/** Data whose second copy is 8000 bytes behind the first: only a window of 2^13 or more reaches it. */
function farRepeat(): Buffer {
  const r = randomBytes(5000);
  return Buffer.concat([r, Buffer.alloc(3000, 1), r]);
}

function inflateWithWindow(data: Buffer, windowBits: number): Buffer {
  return zlib.inflateRawSync(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]), { windowBits, finishFlush: zlib.constants.Z_SYNC_FLUSH });
}

describe('server options', () => {
  it('off by default and with false; true accepts with the defaults', async () => {
    for (const [option, expected] of [
      [undefined, ''],
      [false, ''],
      [true, 'permessage-deflate'],
      [{}, 'permessage-deflate'],
    ] as const) {
      const started = await startServer(defer, { perMessageDeflate: option });
      expect((await peer(started.port, 'permessage-deflate; client_max_window_bits')).extensions).toBe(expected);
    }
  });

  it('threshold', async () => {
    const { port } = await sendingServer({ threshold: 10 }, ['123456789', '1234567890']);
    const [a, b] = await frames(await peer(port, 'permessage-deflate'), 2);
    expect([a.rsv1, b.rsv1]).toEqual([false, true]);
  });

  it('serverNoContextTakeover: announced, and the same message costs the same every time', async () => {
    const message = text(1024, 1);
    const on = await sendingServer({ serverNoContextTakeover: true }, [message, message]);
    const p = await peer(on.port, 'permessage-deflate');
    expect(p.extensions).toBe('permessage-deflate; server_no_context_takeover');
    const [a, b] = await frames(p, 2);
    expect(b.payload.length).toBe(a.payload.length);
    const off = await sendingServer({}, [message, message]);
    const [c, d] = await frames(await peer(off.port, 'permessage-deflate'), 2);
    expect(d.payload.length).toBeLessThan(c.payload.length / 4);
  });

  it('clientNoContextTakeover: announced, and the server drops its inflater after each message', async () => {
    tracker = trackZlib();
    const { port } = await sendingServer({ clientNoContextTakeover: true, threshold: 100_000 }, []);
    const p = await peer(port, 'permessage-deflate');
    expect(p.extensions).toBe('permessage-deflate; client_no_context_takeover');
    p.send(compressedFrame(OP.text, text(2000)));
    expect((await p.read())!.payload.toString()).toBe(text(2000));
    expect(tracker.inflaters).toHaveLength(1);
    await waitFor(() => tracker!.open() === 0, 2000, 'inflater dropped');
    // A second message that refers to the first (context kept by the peer) fails: the server forgot it.
    const z = messageDeflater();
    p.send(frame(OP.text, await z.compress(text(2000, 5)), { rsv: RSV1 }));
    await p.read();
    p.send(frame(OP.text, await z.compress(text(2000, 5)), { rsv: RSV1 }));
    expect((await p.untilClose()).code).toBe(1007);
    z.close();
  });

  it('serverMaxWindowBits: announced, and what the server sends fits that window', async () => {
    const data = farRepeat();
    const small = await sendingServer({ serverMaxWindowBits: 10, threshold: 0 }, [data]);
    const p = await peer(small.port, 'permessage-deflate');
    expect(p.extensions).toBe('permessage-deflate; server_max_window_bits=10');
    const [a] = await frames(p, 1);
    expect(inflateWithWindow(a.payload, 10).equals(data)).toBe(true);
    // A 15-bit window finds the repeat; a 10-bit one cannot.
    const wide = await sendingServer({ threshold: 0 }, [data]);
    const [b] = await frames(await peer(wide.port, 'permessage-deflate'), 1);
    expect(b.payload.length).toBeLessThan(a.payload.length * 0.7);
  });

  it('serverMaxWindowBits 8: announced as 8, and the data fits a 256-byte window (zlib uses 9, whose distances stop at 250)', async () => {
    const data = Buffer.from(text(20_000, 8));
    const { port } = await sendingServer({ serverMaxWindowBits: 8, threshold: 0 }, [data]);
    const p = await peer(port, 'permessage-deflate');
    expect(p.extensions).toBe('permessage-deflate; server_max_window_bits=8');
    const [a] = await frames(p, 1);
    expect(maxDistance(a.payload)).toBeLessThanOrEqual(256);
    expect(inflateMessage(a.payload).equals(data)).toBe(true);
  });

  it('clientMaxWindowBits: set in the answer when the client supports it, and the inflater uses it', async () => {
    tracker = trackZlib();
    const { port } = await sendingServer({ clientMaxWindowBits: 10, threshold: 100_000 }, []);
    const p = await peer(port, 'permessage-deflate; client_max_window_bits');
    expect(p.extensions).toBe('permessage-deflate; client_max_window_bits=10');
    // A peer that breaks the agreement: one 15-bit stream whose second message refers 8000 bytes back,
    // into the first. The server's 1 KiB window no longer holds that: the data is refused.
    const z = messageDeflater();
    const r = randomBytes(5000);
    p.send(frame(OP.binary, await z.compress(Buffer.concat([r, Buffer.alloc(3000, 1)])), { rsv: RSV1 }));
    expect((await p.read())!.payload.length).toBe(8000);
    p.send(frame(OP.binary, await z.compress(r), { rsv: RSV1 }));
    expect((await p.untilClose()).code).toBe(1007);
    z.close();
    expect(tracker.inflaterOptions[0]).toMatchObject({ windowBits: 10 });
    // A client that did not offer the parameter may not be given it (RFC 7692 §7.1.2.2).
    expect((await peer(port, 'permessage-deflate')).extensions).toBe('permessage-deflate');
  });

  it('level: 0 stores, 9 compresses at least as well as 1', async () => {
    const message = text(50_000, 2);
    const sizes: number[] = [];
    for (const level of [0, 1, 9]) {
      const { port } = await sendingServer({ level }, [message]);
      sizes.push((await frames(await peer(port, 'permessage-deflate'), 1))[0].payload.length);
    }
    expect(sizes[0]).toBeGreaterThan(Buffer.byteLength(message));
    expect(sizes[2]).toBeLessThanOrEqual(sizes[1]);
    expect(sizes[1]).toBeLessThan(Buffer.byteLength(message) / 2);
  });

  it('memLevel: 1 compresses worse than 9 (a smaller hash table)', async () => {
    const message = text(200_000, 3);
    const sizes: number[] = [];
    for (const memLevel of [1, 9]) {
      const { port } = await sendingServer({ memLevel }, [message]);
      sizes.push((await frames(await peer(port, 'permessage-deflate'), 1))[0].payload.length);
    }
    expect(sizes[0]).toBeGreaterThan(sizes[1]);
  });
});

describe('client options', () => {
  const message = text(1024, 4);

  it('offered by default; false offers nothing', async () => {
    const server = await rawServer(() => null);
    await client(server.url);
    await client(server.url, { perMessageDeflate: false });
    await client(server.url, { perMessageDeflate: true });
    expect(server.offers).toEqual(['permessage-deflate; client_max_window_bits', '', 'permessage-deflate; client_max_window_bits']);
  });

  it('the server declining (no header) means plain frames', async () => {
    const server = await rawServer(() => null);
    const ws = await client(server.url);
    expect(ws.extensions).toBe('');
    ws.send(message);
    await waitFor(() => server.peers[0]?.frames.length === 1, 2000, 'frame');
    expect(server.peers[0].frames[0].rsv1).toBe(false);
  });

  it('context takeover by default; clientNoContextTakeover resets even if the server does not ask', async () => {
    for (const [options, response, smaller] of [
      [{}, 'permessage-deflate', true],
      [{}, 'permessage-deflate; client_no_context_takeover', false],
      [{ clientNoContextTakeover: true }, 'permessage-deflate', false],
    ] as const) {
      const server = await rawServer(() => response);
      const ws = await client(server.url, { perMessageDeflate: options });
      ws.send(message);
      ws.send(message);
      await waitFor(() => server.peers[0]?.frames.length === 2, 2000, 'frames');
      const [a, b] = server.peers[0].frames;
      expect(a.rsv1 && b.rsv1).toBe(true);
      expect(inflateMessage(a.payload).toString()).toBe(message);
      if (smaller) expect(b.payload.length).toBeLessThan(a.payload.length / 4);
      else expect(b.payload.length).toBe(a.payload.length);
    }
    const server = await rawServer(() => 'permessage-deflate; client_no_context_takeover');
    await client(server.url, { perMessageDeflate: { clientNoContextTakeover: true } });
    expect(server.offers[0]).toBe('permessage-deflate; client_no_context_takeover; client_max_window_bits');
  });

  it('serverNoContextTakeover: offered; a server that does not agree fails the handshake', async () => {
    const agrees = await rawServer(() => 'permessage-deflate; server_no_context_takeover');
    expect((await client(agrees.url, { perMessageDeflate: { serverNoContextTakeover: true } })).extensions).toBe(
      'permessage-deflate; server_no_context_takeover',
    );
    expect(agrees.offers[0]).toBe('permessage-deflate; server_no_context_takeover; client_max_window_bits');
    const refuses = await rawServer(() => 'permessage-deflate');
    await expect(connect(refuses.url, { perMessageDeflate: { serverNoContextTakeover: true } })).rejects.toThrow(/server_no_context_takeover/);
  });

  it('serverMaxWindowBits: offered; a larger answer fails the handshake', async () => {
    const agrees = await rawServer(() => 'permessage-deflate; server_max_window_bits=9');
    await client(agrees.url, { perMessageDeflate: { serverMaxWindowBits: 9 } });
    expect(agrees.offers[0]).toBe('permessage-deflate; server_max_window_bits=9; client_max_window_bits');
    const larger = await rawServer(() => 'permessage-deflate; server_max_window_bits=10');
    await expect(connect(larger.url, { perMessageDeflate: { serverMaxWindowBits: 9 } })).rejects.toBeInstanceOf(HandshakeError);
  });

  it('clientMaxWindowBits: offered with its value, and what the client sends fits it', async () => {
    const server = await rawServer(() => 'permessage-deflate');
    const ws = await client(server.url, { perMessageDeflate: { clientMaxWindowBits: 10, threshold: 0 } });
    expect(server.offers[0]).toBe('permessage-deflate; client_max_window_bits=10');
    const data = farRepeat();
    ws.send(data);
    await waitFor(() => server.peers[0]?.frames.length === 1, 2000, 'frame');
    expect(inflateWithWindow(server.peers[0].frames[0].payload, 10).equals(data)).toBe(true);
    // The server may lower it further.
    const lower = await rawServer(() => 'permessage-deflate; client_max_window_bits=9');
    const ws2 = await client(lower.url, { perMessageDeflate: { clientMaxWindowBits: 10, threshold: 0 } });
    ws2.send(data);
    await waitFor(() => lower.peers[0]?.frames.length === 1, 2000, 'frame');
    expect(inflateWithWindow(lower.peers[0].frames[0].payload, 9).equals(data)).toBe(true);
  });

  it.each([
    ['permessage-deflate; client_max_window_bits', /Invalid permessage-deflate parameters/],
    ['permessage-deflate; foo', /Invalid permessage-deflate parameters/],
    ['permessage-deflate; server_max_window_bits=16', /Invalid permessage-deflate parameters/],
    ['x-webkit-deflate-frame', /extension/i],
    ['permessage-deflate, permessage-deflate', /extension/i],
  ])('an answer of %j fails the handshake', async (response, message) => {
    const server = await rawServer(() => response);
    await expect(connect(server.url)).rejects.toThrow(message);
  });

  it('an extension in the answer when none was offered fails the handshake', async () => {
    const server = await rawServer(() => 'permessage-deflate');
    await expect(connect(server.url, { perMessageDeflate: false })).rejects.toBeInstanceOf(HandshakeError);
  });

  it('threshold, level and memLevel apply to what the client sends', async () => {
    const server = await rawServer(() => 'permessage-deflate');
    const ws = await client(server.url, { perMessageDeflate: { threshold: 5000, level: 0 } });
    ws.send('x'.repeat(4999));
    ws.send(text(5000));
    await waitFor(() => server.peers[0]?.frames.length === 2, 2000, 'frames');
    const [a, b] = server.peers[0].frames;
    expect([a.rsv1, b.rsv1]).toEqual([false, true]);
    // Level 0: stored blocks, bigger than the text.
    expect(b.payload.length).toBeGreaterThan(Buffer.byteLength(text(5000)));
    expect(inflateMessage(b.payload).toString()).toBe(text(5000));
    const sizes: number[] = [];
    for (const memLevel of [1, 9]) {
      const s = await rawServer(() => 'permessage-deflate');
      const c = await client(s.url, { perMessageDeflate: { memLevel } });
      c.send(text(200_000, 3));
      await waitFor(() => s.peers[0]?.frames.length === 1, 2000, 'frame');
      sizes.push(s.peers[0].frames[0].payload.length);
    }
    expect(sizes[0]).toBeGreaterThan(sizes[1]);
  });

  it('our client to our server with every option set on both ends', async () => {
    const options: DeflateOptions = { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 11, clientMaxWindowBits: 12, threshold: 0, level: 3, memLevel: 5 };
    const { url } = await sendingServer(options, []);
    const ws = await client(url, { perMessageDeflate: options });
    expect(ws.extensions).toBe('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=12');
    for (const m of ['', 'x', text(100_000, 6)]) {
      const reply = new Promise<Buffer>((resolve) => ws.once('message', (d) => resolve(d as Buffer)));
      ws.send(m);
      expect((await reply).toString()).toBe(m);
    }
  });
});

describe('rfc6455 echo --deflate', () => {
  const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
  const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

  async function echo(args: string[]): Promise<string> {
    const child = spawn(tsx, [cli, 'echo', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    defer(() => child.kill());
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk;
        const match = /listening on (ws:\/\/\S+)/.exec(out);
        if (match) resolve(match[1]);
      });
      child.on('exit', (code) => reject(new Error(`echo exited with ${code}: ${out}`)));
    });
    return url;
  }

  it('turns permessage-deflate on; without the flag it stays off', async () => {
    const [on, off] = await Promise.all([echo(['--deflate']), echo([])]);
    const a = await client(on);
    expect(a.extensions).toBe('permessage-deflate');
    const reply = new Promise<Buffer>((resolve) => a.once('message', (d) => resolve(d as Buffer)));
    a.send(text(10_000));
    expect((await reply).toString()).toBe(text(10_000));
    expect((await client(off)).extensions).toBe('');
  }, 30_000);
});

/**
 * The largest back-reference distance in raw DEFLATE data (RFC 1951 §3.2), for checking that a
 * stream fits a window. Handles stored, fixed and dynamic Huffman blocks.
 */
function maxDistance(input: Buffer): number {
  const data = Buffer.concat([input, Buffer.from([0, 0, 0xff, 0xff])]);
  let pos = 0;
  let bit = 0;
  const bits = (n: number) => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      if (pos >= data.length) throw new RangeError('end of data');
      v |= ((data[pos] >> bit) & 1) << i;
      if (++bit === 8) {
        bit = 0;
        pos++;
      }
    }
    return v;
  };
  type Huff = { counts: number[]; symbols: number[] };
  const build = (lengths: number[]): Huff => {
    const counts = new Array(16).fill(0);
    for (const l of lengths) counts[l]++;
    counts[0] = 0;
    const offs = [0, 0];
    for (let i = 1; i < 15; i++) offs[i + 1] = offs[i] + counts[i];
    const symbols: number[] = [];
    lengths.forEach((l, s) => {
      if (l) symbols[offs[l]++] = s;
    });
    return { counts, symbols };
  };
  const decode = (h: Huff) => {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len < 16; len++) {
      code |= bits(1);
      const count = h.counts[len];
      if (code - count < first) return h.symbols[index + (code - first)];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new Error('bad code');
  };
  const LBASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
  const LEXT = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
  const DBASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
  const DEXT = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
  let max = 0;
  try {
    for (;;) {
      bits(1); // BFINAL
      const type = bits(2);
      if (type === 0) {
        if (bit) {
          bit = 0;
          pos++;
        }
        const len = data.readUInt16LE(pos);
        pos += 4 + len;
        continue;
      }
      let lit: Huff;
      let dist: Huff;
      if (type === 1) {
        lit = build([...new Array(144).fill(8), ...new Array(112).fill(9), ...new Array(24).fill(7), ...new Array(8).fill(8)]);
        dist = build(new Array(30).fill(5));
      } else {
        const hlit = bits(5) + 257;
        const hdist = bits(5) + 1;
        const hclen = bits(4) + 4;
        const order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
        const cl = new Array(19).fill(0);
        for (let i = 0; i < hclen; i++) cl[order[i]] = bits(3);
        const clh = build(cl);
        const lengths: number[] = [];
        while (lengths.length < hlit + hdist) {
          const sym = decode(clh);
          if (sym < 16) lengths.push(sym);
          else if (sym === 16) lengths.push(...new Array(3 + bits(2)).fill(lengths[lengths.length - 1]));
          else if (sym === 17) lengths.push(...new Array(3 + bits(3)).fill(0));
          else lengths.push(...new Array(11 + bits(7)).fill(0));
        }
        lit = build(lengths.slice(0, hlit));
        dist = build(lengths.slice(hlit));
      }
      for (;;) {
        const sym = decode(lit);
        if (sym < 256) continue;
        if (sym === 256) break;
        bits(LEXT[sym - 257]);
        void LBASE;
        const d = decode(dist);
        max = Math.max(max, DBASE[d] + bits(DEXT[d]));
      }
    }
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
  }
  return max;
}
