/**
 * A raw WebSocket peer over node:net, written from RFC 6455 §4 and §5.2 without any code from
 * src/: handshakes typed by hand, frames built and read byte for byte, so a test can send what no
 * well-behaved library would and see exactly what came back.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import type { Defer } from './cleanup.js';

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;
export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

export interface FrameOptions {
  fin?: boolean;
  /** RSV1..3 as a 3-bit number (4 = RSV1, 2 = RSV2, 1 = RSV3). */
  rsv?: number;
  /** Client frames are masked (§5.3); default true. */
  mask?: boolean;
  /** Declared payload length, when it should not match the payload. */
  length?: bigint;
}

/** One frame from parts; every field can be made wrong on purpose. */
export function frame(opcode: number, payload: Buffer | string = Buffer.alloc(0), options: FrameOptions = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const { fin = true, rsv = 0, mask = true } = options;
  const length = options.length ?? BigInt(data.length);
  const head = [((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)) & 0xff];
  const m = mask ? 0x80 : 0;
  if (length < 126n) head.push(m | Number(length));
  else if (length < 0x10000n) head.push(m | 126, Number(length >> 8n), Number(length & 0xffn));
  else {
    head.push(m | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((length >> shift) & 0xffn));
  }
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const key = randomBytes(4);
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) body[i] = data[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** A close frame payload: 2-byte code, then the reason. */
export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const tail = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return Buffer.concat([head, tail]);
}

export interface RawFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Whole frames off the front of `buffer`, and the bytes left over. */
export function parseFrames(buffer: Buffer): { frames: RawFrame[]; rest: Buffer } {
  const frames: RawFrame[] = [];
  let pos = 0;
  while (buffer.length - pos >= 2) {
    const b0 = buffer[pos];
    const b1 = buffer[pos + 1];
    let length = b1 & 0x7f;
    let q = pos + 2;
    if (length === 126) {
      if (buffer.length < q + 2) break;
      length = buffer.readUInt16BE(q);
      q += 2;
    } else if (length === 127) {
      if (buffer.length < q + 8) break;
      length = Number(buffer.readBigUInt64BE(q));
      q += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key: Buffer | null = null;
    if (masked) {
      if (buffer.length < q + 4) break;
      key = buffer.subarray(q, q + 4);
      q += 4;
    }
    if (buffer.length < q + length) break;
    const payload = Buffer.from(buffer.subarray(q, q + length));
    if (key) for (let i = 0; i < length; i++) payload[i] ^= key[i & 3];
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload });
    pos = q + length;
  }
  return { frames, rest: buffer.subarray(pos) };
}

/** Collects the frames arriving on a socket and notices when the peer closes TCP. */
export class FrameReader {
  readonly frames: RawFrame[] = [];
  /** Resolves when the socket is fully closed. */
  readonly closed: Promise<void>;
  /** Set when the peer half-closed (sent FIN) or the socket closed. */
  peerEnded = false;
  isClosed = false;
  private pending = Buffer.alloc(0);

  constructor(
    readonly socket: net.Socket,
    head: Buffer = Buffer.alloc(0),
  ) {
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.peerEnded = true;
        resolve();
      }),
    );
    socket.on('end', () => (this.peerEnded = true));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => this.take(chunk));
    if (head.length) this.take(head);
  }

  private take(chunk: Buffer): void {
    const { frames, rest } = parseFrames(Buffer.concat([this.pending, chunk]));
    this.pending = Buffer.from(rest);
    this.frames.push(...frames);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The first frame with `opcode`; rejects after `ms`. */
  async next(opcode: number, ms = 5000): Promise<RawFrame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find((f) => f.opcode === opcode);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no frame with opcode ${opcode} within ${ms} ms (got ${this.frames.map((f) => f.opcode)})`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** The close code the peer sent (1005 when none) once its close frame arrived. */
  async closeCode(ms = 5000): Promise<number> {
    const close = await this.next(OP.close, ms);
    return close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
  }

  /** Resolves once the peer closed TCP (FIN or full close); rejects after `ms`. */
  async peerClosedTcp(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.peerEnded) {
      if (Date.now() > deadline) throw new Error(`the peer did not close TCP within ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

export interface RawOpenOptions {
  path?: string;
  /** Extra header lines, each "Name: value". */
  headers?: string[];
  /** Bytes written in the same write as the request, right after its \r\n\r\n. */
  after?: Buffer;
}

/** A raw client that did the opening handshake by hand; fails unless the answer is a correct 101. */
export class RawClient extends FrameReader {
  constructor(
    socket: net.Socket,
    head: Buffer,
    readonly response: string,
  ) {
    super(socket, head);
  }

  static async open(port: number, options: RawOpenOptions = {}, defer?: Defer): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    defer?.(() => socket.destroy());
    const key = randomBytes(16).toString('base64');
    const lines = [
      `GET ${options.path ?? '/'} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`,
      'Sec-WebSocket-Version: 13',
      ...(options.headers ?? []),
    ];
    const request = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
    socket.write(options.after ? Buffer.concat([request, options.after]) : request);
    const { head, response } = await readHead(socket);
    if (!response.startsWith('HTTP/1.1 101 ')) throw new Error(`handshake refused: ${response.split('\r\n')[0]}`);
    const accept = headerValue(response, 'sec-websocket-accept');
    if (accept !== acceptFor(key)) throw new Error(`wrong Sec-WebSocket-Accept: ${accept}`);
    return new RawClient(socket, head, response);
  }
}

/** The value of a header in a raw response head (case-insensitive name), or undefined. */
export function headerValue(head: string, name: string): string | undefined {
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name.toLowerCase()) return line.slice(colon + 1).trim();
  }
  return undefined;
}

/** Reads an HTTP message head off a socket; returns it and the bytes after it. */
export function readHead(socket: net.Socket, ms = 5000): Promise<{ response: string; head: Buffer }> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error('no HTTP head within timeout')), ms);
    const finish = (error: Error | null, value?: { response: string; head: Buffer }) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (error) reject(error);
      else resolve(value!);
    };
    const onData = (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (end !== -1) finish(null, { response: data.subarray(0, end + 4).toString('latin1'), head: data.subarray(end + 4) });
    };
    const onClose = () => finish(new Error(`closed before a full head: ${JSON.stringify(data.toString('latin1'))}`));
    const onError = (error: Error) => finish(error);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);
  });
}

export interface RawResponse {
  status: number;
  head: string;
  body: string;
  /** Whether the server closed the connection after answering. */
  closedByServer: boolean;
  header(name: string): string | undefined;
}

/** Writes `request` verbatim and reads the answer until the server closes (or `ms` passes). */
export function rawRequest(port: number, request: string | Buffer, ms = 3000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let data = Buffer.alloc(0);
    let closedByServer = true;
    const timer = setTimeout(() => {
      closedByServer = false;
      socket.destroy();
    }, ms);
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      // A 101 keeps the connection open: the head is the whole answer.
      if (/^HTTP\/1\.1 101 /.test(data.toString('latin1')) && data.includes('\r\n\r\n')) {
        closedByServer = false;
        socket.destroy();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end === -1 ? text : text.slice(0, end + 4);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: end === -1 ? '' : text.slice(end + 4), closedByServer, header: (name) => headerValue(head, name) });
    });
  });
}

/** A valid upgrade request for `path`, with the given extra header lines, as raw text. */
export function upgradeRequest(port: number, options: { path?: string; method?: string; version?: string; headers?: Record<string, string | null> } = {}): string {
  const headers: Record<string, string | null> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...options.headers,
  };
  const lines = [`${options.method ?? 'GET'} ${options.path ?? '/'} HTTP/${options.version ?? '1.1'}`];
  for (const [name, value] of Object.entries(headers)) if (value !== null) lines.push(`${name}: ${value}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/**
 * A node:net server that plays a WebSocket server by hand: `onRequest` gets each socket with the
 * request head once it arrived, and answers (or not) as the test wants.
 */
export async function startRawServer(
  defer: Defer,
  onRequest: (socket: net.Socket, request: string, head: Buffer) => void,
): Promise<{ server: net.Server; port: number; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    readHead(socket, 60_000).then(
      ({ response, head }) => onRequest(socket, response, head),
      () => {},
    );
  });
  defer(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port, sockets };
}

/** The 101 a raw server sends for `request`, with optional extra header lines. */
export function accept101(request: string, extra: string[] = []): string {
  const key = headerValue(request, 'sec-websocket-key')!;
  return ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptFor(key)}`, ...extra].join('\r\n') + '\r\n\r\n';
}
