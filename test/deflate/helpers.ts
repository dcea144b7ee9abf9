/**
 * Helpers for the permessage-deflate tests: a frame builder and reader written from RFC 6455 §5.2
 * (no code shared with src/), compression done with zlib directly as RFC 7692 §7.2.1 describes,
 * a raw TCP peer that negotiates whatever extension header it is given, and a tracker of the
 * zlib streams the library creates.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as net from 'node:net';
import * as zlib from 'node:zlib';
import { WebSocketServer, type ServerOptions } from '../../src/index.js';
import { parseFrames } from '../helpers/raw.js';

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  fin?: boolean;
  rsv1?: boolean;
  /** Client frames are masked (§5.3). */
  mask?: boolean;
}

export function frame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : Buffer.from(spec.payload ?? []);
  const fin = spec.fin ?? true;
  const mask = spec.mask ?? true;
  const head: number[] = [(fin ? 0x80 : 0) | (spec.rsv1 ? 0x40 : 0) | spec.opcode];
  const m = mask ? 0x80 : 0;
  const n = payload.length;
  if (n < 126) head.push(m | n);
  else if (n < 0x10000) head.push(m | 126, n >> 8, n & 0xff);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    head.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(n);
  for (let i = 0; i < n; i++) masked[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(head), key, masked]);
}

export interface ReadFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  payload: Buffer;
}

/** Reads whole frames off the front of `buffer`; returns them and what is left. */
export function readFrames(buffer: Buffer): { frames: ReadFrame[]; rest: Buffer } {
  const { frames, rest } = parseFrames(buffer);
  return { frames: frames.map((f) => ({ fin: f.fin, rsv1: (f.rsv & 4) !== 0, opcode: f.opcode, payload: f.payload })), rest };
}

/** RFC 7692 §7.2.1: deflate, sync flush, drop the trailing 00 00 ff ff. */
export function deflateMessage(data: Uint8Array | string, options: zlib.ZlibOptions = {}): Buffer {
  const out = zlib.deflateRawSync(typeof data === 'string' ? Buffer.from(data) : data, { ...options, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/** RFC 7692 §7.2.2: put the trailer back and inflate. */
export function inflateMessage(data: Uint8Array): Buffer {
  return zlib.inflateRawSync(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
}

export async function startServer(options: ServerOptions = {}): Promise<{ server: WebSocketServer; port: number; url: string }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, port, url: `ws://127.0.0.1:${port}` };
}

/** A client that speaks raw bytes after an opening handshake offering `extensions`. */
export class RawPeer {
  socket!: net.Socket;
  /** The Sec-WebSocket-Extensions response header ('' when absent). */
  extensions = '';
  private buffer = Buffer.alloc(0);
  private readonly received: ReadFrame[] = [];
  private waiters: Array<() => void> = [];
  ended = false;

  static async open(port: number, extensions?: string): Promise<RawPeer> {
    const peer = new RawPeer();
    await peer.handshake(port, extensions);
    return peer;
  }

  private handshake(port: number, extensions: string | undefined): Promise<void> {
    const key = randomBytes(16).toString('base64');
    const accept = createHash('sha1').update(key + GUID).digest('base64');
    return new Promise((resolve, reject) => {
      const socket = (this.socket = net.connect(port, '127.0.0.1'));
      let head = Buffer.alloc(0);
      let upgraded = false;
      socket.on('error', (error) => (upgraded ? undefined : reject(error)));
      socket.on('close', () => {
        this.ended = true;
        this.wake();
        if (!upgraded) reject(new Error('closed during the handshake'));
      });
      socket.on('data', (chunk: Buffer) => {
        if (upgraded) {
          this.buffer = Buffer.concat([this.buffer, chunk]);
          const { frames, rest } = readFrames(this.buffer);
          this.buffer = Buffer.from(rest);
          this.received.push(...frames);
          this.wake();
          return;
        }
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = head.subarray(0, end).toString('latin1').split('\r\n');
        if (!lines[0].startsWith('HTTP/1.1 101')) return reject(new Error(`handshake refused: ${lines[0]}`));
        const headers = new Map(lines.slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
        if (headers.get('sec-websocket-accept') !== accept) return reject(new Error('bad Sec-WebSocket-Accept'));
        this.extensions = headers.get('sec-websocket-extensions') ?? '';
        upgraded = true;
        const rest = head.subarray(end + 4);
        if (rest.length) socket.emit('data', rest);
        resolve();
      });
      socket.write(
        [
          'GET / HTTP/1.1',
          `Host: 127.0.0.1:${port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${key}`,
          'Sec-WebSocket-Version: 13',
          ...(extensions ? [`Sec-WebSocket-Extensions: ${extensions}`] : []),
          '',
          '',
        ].join('\r\n'),
      );
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  /** Waits for the next frame (null once the connection has ended without one). */
  async next(timeout = 5000): Promise<ReadFrame | null> {
    const deadline = Date.now() + timeout;
    while (this.received.length === 0) {
      if (this.ended) return null;
      if (Date.now() > deadline) throw new Error('no frame in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received.shift()!;
  }

  /** Reads frames until a close frame; returns its code and the data frames before it. */
  async untilClose(timeout = 5000): Promise<{ code: number | null; frames: ReadFrame[] }> {
    const frames: ReadFrame[] = [];
    for (;;) {
      const f = await this.next(timeout);
      if (!f) return { code: null, frames };
      if (f.opcode === OP.close) return { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, frames };
      frames.push(f);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Every zlib stream created through node:zlib's create* functions while tracking is on. */
export interface ZlibTracker {
  deflaters: zlib.DeflateRaw[];
  inflaters: zlib.InflateRaw[];
  /** The options each was made with, in the same order. */
  deflaterOptions: zlib.ZlibOptions[];
  inflaterOptions: zlib.ZlibOptions[];
  /** Bytes every inflater has produced, counted as they come out. */
  inflatedBytes: number;
  /** The largest process.memoryUsage().arrayBuffers seen as inflated data came out. */
  peakArrayBuffers: number;
  /** Streams whose native zlib handle is still open. */
  open(): number;
  stop(): void;
}

/**
 * Wraps zlib.createDeflateRaw/createInflateRaw for the ES module namespace the library imports
 * (module.syncBuiltinESMExports), so tests see every stream it makes without touching src/.
 */
export function trackZlib(): ZlibTracker {
  const cjs = createRequire(import.meta.url)('node:zlib') as typeof zlib;
  const createDeflateRaw = cjs.createDeflateRaw;
  const createInflateRaw = cjs.createInflateRaw;
  const tracker: ZlibTracker = {
    deflaters: [],
    inflaters: [],
    deflaterOptions: [],
    inflaterOptions: [],
    inflatedBytes: 0,
    peakArrayBuffers: 0,
    open: () =>
      [...tracker.deflaters, ...tracker.inflaters].filter((stream) => (stream as unknown as { _handle: unknown })._handle != null).length,
    stop() {
      replace(cjs, 'createDeflateRaw', createDeflateRaw);
      replace(cjs, 'createInflateRaw', createInflateRaw);
      syncBuiltinESMExports();
    },
  };
  replace(cjs, 'createDeflateRaw', (options?: zlib.ZlibOptions) => {
    const stream = createDeflateRaw(options);
    tracker.deflaters.push(stream);
    tracker.deflaterOptions.push({ ...options });
    return stream;
  });
  replace(cjs, 'createInflateRaw', (options?: zlib.ZlibOptions) => {
    const stream = createInflateRaw(options);
    tracker.inflaters.push(stream);
    tracker.inflaterOptions.push({ ...options });
    // Count what comes out by wrapping push, so the stream's flow is not changed by a listener.
    const push = stream.push;
    stream.push = function (chunk: Buffer | null, encoding?: BufferEncoding) {
      if (chunk) {
        tracker.inflatedBytes += chunk.length;
        tracker.peakArrayBuffers = Math.max(tracker.peakArrayBuffers, process.memoryUsage().arrayBuffers);
      }
      return push.call(this, chunk, encoding);
    };
    return stream;
  });
  syncBuiltinESMExports();
  return tracker;
}

/** zlib's exports are read-only but configurable. */
function replace<K extends 'createDeflateRaw' | 'createInflateRaw'>(target: typeof zlib, key: K, value: (typeof zlib)[K]): void {
  Object.defineProperty(target, key, { value, writable: false, enumerable: true, configurable: true });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `check()` is true (polling), or fails after `timeout` ms. */
export async function until(check: () => boolean, timeout = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

/** Compressible text of `size` bytes or a little more (words picked by a small PRNG from `seed`). */
export function text(size: number, seed = 0): string {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa', 'λάμδα', '€', 'mu', 'nu', 'xi',
    'omicron', 'pi', 'rho', 'sigma', 'tau', 'upsilon', 'phi', 'chi', 'psi', 'omega', '42', '1024', 'ωμέγα'];
  const parts: string[] = [];
  let length = 0;
  let state = (seed * 2654435761 + 1) >>> 0;
  while (length < size) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const word = words[(state >>> 16) % words.length];
    parts.push(word);
    length += Buffer.byteLength(word) + 1;
  }
  return parts.join(' ') + ' ';
}

/**
 * A server that answers the opening handshake with whatever `respond(offer)` returns as its
 * Sec-WebSocket-Extensions (null: no header), then records the frames the client sends.
 */
export class RawServer {
  readonly server: net.Server;
  /** Each client's offer, in order. */
  readonly offers: string[] = [];
  readonly peers: RawServerPeer[] = [];
  port = 0;

  private constructor(respond: (offer: string) => string | null) {
    this.server = net.createServer((socket) => {
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const lines = head.subarray(0, end).toString('latin1').split('\r\n');
        const headers = new Map(lines.slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
        const offer = headers.get('sec-websocket-extensions') ?? '';
        this.offers.push(offer);
        const accept = createHash('sha1').update(headers.get('sec-websocket-key') + GUID).digest('base64');
        const extensions = respond(offer);
        socket.write(
          ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`,
            ...(extensions === null ? [] : [`Sec-WebSocket-Extensions: ${extensions}`]), '', ''].join('\r\n'),
        );
        const peer = new RawServerPeer(socket);
        this.peers.push(peer);
        const rest = head.subarray(end + 4);
        if (rest.length) peer.push(rest);
      };
      socket.on('data', onData);
      socket.on('error', () => {});
    });
  }

  static async start(respond: (offer: string) => string | null): Promise<RawServer> {
    const raw = new RawServer(respond);
    await new Promise<void>((resolve) => raw.server.listen(0, '127.0.0.1', resolve));
    raw.port = (raw.server.address() as net.AddressInfo).port;
    return raw;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    for (const peer of this.peers) peer.socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export class RawServerPeer {
  readonly frames: ReadFrame[] = [];
  private buffer = Buffer.alloc(0);

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.push(chunk));
  }

  push(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const { frames, rest } = readFrames(this.buffer);
    this.buffer = Buffer.from(rest);
    this.frames.push(...frames);
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }
}
