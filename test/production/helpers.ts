/**
 * Helpers for the production-feature tests: a raw TCP peer that does the opening handshake by hand
 * (node:net, no code shared with src/), a frame builder and reader written from RFC 6455 §5.2, and
 * small waiting utilities. Everything runs over real loopback sockets.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type ServerOptions } from '../../src/index.js';
import { parseFrames, type RawFrame } from '../helpers/raw.js';

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A frame as a client sends it (masked unless told otherwise). */
export function frame(opcode: number, payload: Uint8Array | string = '', mask = true, fin = true): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  const n = data.length;
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  const m = mask ? 0x80 : 0;
  if (n < 126) head.push(m | n);
  else if (n < 0x10000) head.push(m | 126, n >> 8, n & 0xff);
  else head.push(m | 127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const key = randomBytes(4);
  for (let i = 0; i < n; i++) data[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(head), key, data]);
}

export function closeFrame(code: number, reason = '', mask = true): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return frame(OP.close, payload, mask);
}

/** Size on the wire of an unmasked (server) frame carrying `n` payload bytes. */
export function serverFrameSize(n: number): number {
  return n + (n < 126 ? 2 : n < 0x10000 ? 4 : 10);
}

export type ReadFrame = RawFrame;

/** Reads whole frames off the front of `buffer`; returns them and what is left. */
export const readFrames = parseFrames;

export interface RawOptions {
  path?: string;
  headers?: Record<string, string>;
  /** Source address, e.g. '127.0.0.2', to appear as another client. */
  localAddress?: string;
  /** Answer pings with pongs (default true). */
  autoPong?: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * A hand-written WebSocket client on a plain TCP socket. After a 101 it parses the frames the
 * server sends (`frames`), keeps every 'data' chunk as it came (`chunks`), and answers pings
 * unless `autoPong` is false.
 */
export class RawPeer {
  readonly frames: ReadFrame[] = [];
  readonly chunks: Buffer[] = [];
  bytesReceived = 0;
  autoPong: boolean;
  ended = false;
  private pending: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  readonly closed: Promise<void>;

  private constructor(
    readonly socket: net.Socket,
    readonly response: RawResponse,
    head: Buffer,
    autoPong: boolean,
  ) {
    this.autoPong = autoPong;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('close', () => this.notify());
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    if (head.length) this.onData(head);
  }

  /** Opens a TCP connection and sends the upgrade request; resolves with the peer when the server answered. */
  static async connect(port: number, options: RawOptions = {}): Promise<RawPeer> {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: options.localAddress });
    socket.on('error', () => {});
    await once(socket, 'connect');
    const key = randomBytes(16).toString('base64');
    const lines = [
      `GET ${options.path ?? '/'} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`,
      'Sec-WebSocket-Version: 13',
      ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    const { response, head } = await readResponse(socket);
    if (response.status === 101) {
      const accept = createHash('sha1').update(key + GUID).digest('base64');
      if (response.headers['sec-websocket-accept'] !== accept) throw new Error('bad Sec-WebSocket-Accept');
    }
    return new RawPeer(socket, response, head, options.autoPong ?? true);
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytesReceived += chunk.length;
    const { frames, rest } = readFrames(this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk);
    this.pending = Buffer.from(rest);
    for (const f of frames) {
      this.frames.push(f);
      if (f.opcode === OP.ping && this.autoPong && !this.socket.destroyed) this.socket.write(frame(OP.pong, f.payload));
    }
    this.notify();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once `predicate` holds (checked on every chunk, end and close); rejects after `ms`. */
  waitFor(predicate: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      const check = () => {
        if (predicate()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /** The first frame with this opcode, waiting for it. */
  async frameOf(opcode: number, ms = 5000): Promise<ReadFrame> {
    await this.waitFor(() => this.frames.some((f) => f.opcode === opcode), ms, `opcode ${opcode}`);
    return this.frames.find((f) => f.opcode === opcode)!;
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  sendText(text: string): void {
    this.socket.write(frame(OP.text, text));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Reads an HTTP response head (and the body when it has a Content-Length) off a raw socket. */
export function readResponse(socket: net.Socket, ms = 5000): Promise<{ response: RawResponse; head: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error('timed out waiting for the HTTP response')), ms);
    const finish = (error: Error | null, value?: { response: RawResponse; head: Buffer }) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve(value!);
    };
    const onClose = () => finish(new Error(`connection closed before a response (${buffer.length} bytes)`));
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      const [statusLine, ...headerLines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const status = Number(statusLine.split(' ')[1]);
      const rest = buffer.subarray(end + 4);
      if (status !== 101 && headers['content-length'] !== undefined) {
        const length = Number(headers['content-length']);
        if (rest.length < length) return;
        return finish(null, { response: { status, headers, body: rest.subarray(0, length).toString() }, head: Buffer.alloc(0) });
      }
      finish(null, { response: { status, headers, body: '' }, head: status === 101 ? rest : Buffer.alloc(0) });
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

/** A server of its own on 127.0.0.1, on a free port. */
export async function startServer(options: Omit<ServerOptions, 'port'> = {}): Promise<{ server: WebSocketServer; port: number; url: string }> {
  const server = new WebSocketServer({ ...options, port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return { server, port, url: `ws://127.0.0.1:${port}` };
}

/**
 * Room on top of a deadline for a loaded machine (files run in parallel, and CI boxes are shared):
 * upper bounds on timings catch "never" and "much later"; lower bounds and counts pin the rest.
 */
export const SLACK = Number(process.env.RFC6455_TIMING_SLACK ?? 1000);

/** Resolves when the socket has closed, however (an 'error' before it is not a rejection). */
export function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed && socket.closed ? resolve() : socket.once('close', () => resolve())));
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` every few ms; rejects after `ms`. */
export async function until(predicate: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

/** Resolves with the next emission of `event`, or rejects after `ms`. */
export function next<T extends unknown[]>(emitter: NodeJS.EventEmitter, event: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out waiting for '${event}'`));
    }, ms);
    const listener = (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args as T);
    };
    emitter.once(event, listener);
  });
}

/** Tracks servers and sockets a test opened so afterEach can close them whatever happened. */
export class Cleanup {
  private readonly tasks: Array<() => unknown> = [];
  add(task: () => unknown): void {
    this.tasks.push(task);
  }
  server(server: WebSocketServer): WebSocketServer {
    this.add(() => server.close({ timeout: 100 }));
    return server;
  }
  async run(): Promise<void> {
    const tasks = this.tasks.splice(0).reverse();
    for (const task of tasks) {
      try {
        await task();
      } catch {
        // best effort
      }
    }
  }
}

/**
 * A hand-written WebSocket server on node:net: answers the opening handshake with a 101 and then
 * only records frames (it never answers pings unless `autoPong`). For client-side tests.
 */
export class RawServer {
  readonly server: net.Server;
  readonly sockets: net.Socket[] = [];
  readonly frames: ReadFrame[] = [];
  autoPong = false;
  port = 0;

  constructor() {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  async listen(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  private accept(socket: net.Socket): void {
    this.sockets.push(socket);
    socket.on('error', () => {});
    let buffer = Buffer.alloc(0);
    let open = false;
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!open) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffer.subarray(0, end).toString('latin1');
        const key = /sec-websocket-key:\s*(\S+)/i.exec(head)![1];
        const accept = createHash('sha1').update(key + GUID).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        open = true;
        buffer = buffer.subarray(end + 4);
      }
      const { frames, rest } = readFrames(buffer);
      buffer = Buffer.from(rest);
      for (const f of frames) {
        this.frames.push(f);
        if (f.opcode === OP.ping && this.autoPong) socket.write(frame(OP.pong, f.payload, false));
      }
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
