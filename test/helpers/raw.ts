/**
 * Raw WebSocket peers over node:net (or node:tls), written from RFC 6455 §4 and §5.2 (and RFC 7692 §7.2 for
 * compressed messages) without any code from src/: handshakes typed by hand, frames built and read
 * byte for byte, so a test can send what no well-behaved library would and see exactly what came
 * back. A raw client (RawClient) to test our server, a raw server (RawServer, startRawServer) to
 * test our client.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as zlib from 'node:zlib';
import type { Defer } from './cleanup.js';

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;
export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The RSV1 bit in `FrameOptions.rsv` and `RawFrame.rsv`: "compressed" under permessage-deflate (RFC 7692 §6). */
export const RSV1 = 4;

export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

// ---- building frames ----------------------------------------------------------------------

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
export function frame(opcode: number, payload: Uint8Array | string = Buffer.alloc(0), options: FrameOptions = {}): Buffer {
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

/** A close frame with `code` and `reason` (masked, as a client sends it, unless `options.mask` is false). */
export function closeFrame(code: number, reason: Buffer | string = '', options: FrameOptions = {}): Buffer {
  return frame(OP.close, closePayload(code, reason), options);
}

/** Size on the wire of an unmasked (server) frame carrying `n` payload bytes. */
export function serverFrameSize(n: number): number {
  return n + (n < 126 ? 2 : n < 0x10000 ? 4 : 10);
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

/**
 * A peer's deflater that keeps its context across messages (context takeover): each `compress`
 * is one message's payload as RFC 7692 §7.2.1 says, free to refer back into the earlier ones.
 */
export function messageDeflater(options: zlib.ZlibOptions = {}): { compress(data: Uint8Array | string): Promise<Buffer>; close(): void } {
  const deflater = zlib.createDeflateRaw(options);
  const chunks: Buffer[] = [];
  deflater.on('data', (chunk: Buffer) => chunks.push(chunk));
  return {
    compress: (data) =>
      new Promise((resolve) => {
        deflater.write(data);
        deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          const out = Buffer.concat(chunks.splice(0));
          resolve(out.subarray(0, out.length - 4));
        });
      }),
    close: () => deflater.close(),
  };
}

/** A whole message compressed as RFC 7692 §7.2.1 says, in one frame with RSV1 set (on top of `options.rsv`). */
export function compressedFrame(opcode: number, data: Uint8Array | string, options: FrameOptions = {}): Buffer {
  return frame(opcode, deflateMessage(data), { ...options, rsv: (options.rsv ?? 0) | RSV1 });
}

// ---- reading frames -----------------------------------------------------------------------

export interface RawFrame {
  fin: boolean;
  rsv: number;
  /** RSV1 on its own (`(rsv & RSV1) !== 0`): compressed, under permessage-deflate. */
  rsv1: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** The whole size of the frame starting `buffer`, or 0 while its header is incomplete. */
function nextFrameSize(buffer: Buffer): number {
  if (buffer.length < 2) return 0;
  const code = buffer[1] & 0x7f;
  const head = (code === 126 ? 4 : code === 127 ? 10 : 2) + (buffer[1] & 0x80 ? 4 : 0);
  if (buffer.length < head) return 0;
  const length = code === 126 ? buffer.readUInt16BE(2) : code === 127 ? Number(buffer.readBigUInt64BE(2)) : code;
  return head + length;
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
    const rsv = (b0 >> 4) & 7;
    frames.push({ fin: (b0 & 0x80) !== 0, rsv, rsv1: (rsv & RSV1) !== 0, opcode: b0 & 0x0f, masked, payload });
    pos = q + length;
  }
  return { frames, rest: buffer.subarray(pos) };
}

export interface ReaderOptions {
  /** Mask the frames this side builds (`sendText`, pongs), as a client must (§5.3). Default false. */
  mask?: boolean;
  /** Answer every ping with a pong carrying its payload. Default false. */
  autoPong?: boolean;
}

/**
 * Collects the frames arriving on a socket (either side of a connection) and notices when the peer
 * closes TCP. `frames` keeps every frame; `read()` takes them one by one in order.
 */
export class FrameReader {
  readonly frames: RawFrame[] = [];
  /** Every 'data' chunk as it came (bytes that came with the handshake head count as one). */
  readonly chunks: Buffer[] = [];
  bytesReceived = 0;
  /** Resolves when the socket is fully closed. */
  readonly closed: Promise<void>;
  /** Set when the peer half-closed (sent FIN) or the socket closed. */
  peerEnded = false;
  isClosed = false;
  autoPong: boolean;
  readonly mask: boolean;
  private pendingParts: Buffer[] = [];
  private pendingLength = 0;
  /** The size of the frame at the start of `pendingParts`, once its header is there (else 0). */
  private needed = 0;
  private waiters: Array<() => void> = [];
  /** How many of `frames` read() has handed out. */
  private cursor = 0;

  constructor(
    readonly socket: net.Socket,
    head: Buffer = Buffer.alloc(0),
    options: ReaderOptions = {},
  ) {
    this.mask = options.mask ?? false;
    this.autoPong = options.autoPong ?? false;
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.peerEnded = true;
        this.notify();
        resolve();
      }),
    );
    socket.on('end', () => {
      this.peerEnded = true;
      this.notify();
    });
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => this.take(chunk));
    if (head.length) this.take(head);
  }

  private take(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytesReceived += chunk.length;
    // A large frame arrives in many reads: gather them and parse once it can be whole, so reading
    // it costs one copy, not one per read.
    this.pendingParts.push(chunk);
    this.pendingLength += chunk.length;
    if (this.pendingLength < this.needed) return;
    const { frames, rest } = parseFrames(this.pendingParts.length === 1 ? chunk : Buffer.concat(this.pendingParts, this.pendingLength));
    this.pendingParts = rest.length ? [Buffer.from(rest)] : [];
    this.pendingLength = rest.length;
    this.needed = nextFrameSize(rest);
    for (const f of frames) {
      this.frames.push(f);
      if (f.opcode === OP.ping && this.autoPong && !this.socket.destroyed) this.socket.write(frame(OP.pong, f.payload, { mask: this.mask }));
    }
    this.notify();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Writes `frames` in one write. */
  send(...frames: Buffer[]): void {
    this.socket.write(frames.length === 1 ? frames[0] : Buffer.concat(frames));
  }

  sendText(text: string): void {
    this.socket.write(frame(OP.text, text, { mask: this.mask }));
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves once `predicate` holds, checked now and on every chunk, end and close; rejects after `ms`. */
  waitFor(predicate: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(new Error(`timed out waiting for ${what}`));
      }, ms);
      const check = () => {
        if (done) return;
        if (predicate()) {
          done = true;
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /** The first frame with `opcode` (read or not); rejects after `ms`. */
  async next(opcode: number, ms = 5000): Promise<RawFrame> {
    const find = () => this.frames.find((f) => f.opcode === opcode);
    await this.waitFor(() => find() !== undefined, ms).catch(() => {
      throw new Error(`no frame with opcode ${opcode} within ${ms} ms (got ${this.frames.map((f) => f.opcode)})`);
    });
    return find()!;
  }

  /** The next frame not read yet, in order; null once the socket closed without one. Rejects after `ms`. */
  async read(ms = 5000): Promise<RawFrame | null> {
    await this.waitFor(() => this.cursor < this.frames.length || this.isClosed, ms, 'a frame');
    return this.cursor < this.frames.length ? this.frames[this.cursor++] : null;
  }

  /** Reads frames until a close frame: its code (1005 when none, null when TCP closed first) and the other frames before it. */
  async untilClose(ms = 5000): Promise<{ code: number | null; frames: RawFrame[] }> {
    const frames: RawFrame[] = [];
    for (;;) {
      const f = await this.read(ms);
      if (!f) return { code: null, frames };
      if (f.opcode === OP.close) return { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, frames };
      frames.push(f);
    }
  }

  /** The close code the peer sent (1005 when none) once its close frame arrived. */
  async closeCode(ms = 5000): Promise<number> {
    const close = await this.next(OP.close, ms);
    return close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
  }

  /** Resolves once the peer closed TCP (FIN or full close); rejects after `ms`. */
  async peerClosedTcp(ms = 5000): Promise<void> {
    await this.waitFor(() => this.peerEnded, ms).catch(() => {
      throw new Error(`the peer did not close TCP within ${ms} ms`);
    });
  }
}

// ---- a raw client, for testing our server -------------------------------------------------

export interface RawOpenOptions {
  path?: string;
  /** Extra header lines after the usual ones ("Name: value" each, or names to values); a repeated name is sent twice. */
  headers?: string[] | Record<string, string>;
  /** Sent as Sec-WebSocket-Extensions (the offer). */
  extensions?: string;
  /** Bytes written in the same write as the request, right after its \r\n\r\n. */
  after?: Buffer;
  /** Source address, e.g. '127.0.0.2', to appear as another client. */
  localAddress?: string;
  /** Answer pings with (masked) pongs; default false. */
  autoPong?: boolean;
  /** Speak TLS (wss://) with these options (e.g. `ca`, `servername`). */
  tls?: tls.ConnectionOptions;
}

/**
 * A raw client that did the opening handshake by hand. `open` fails unless the answer is a correct
 * 101; `connect` resolves with whatever the server answered (`status`, `headers`, `body`), and reads
 * frames only after a 101.
 */
export class RawClient extends FrameReader {
  readonly status: number;
  /** The response headers, names in lower case (the last one of a repeated name). */
  readonly headers: Record<string, string>;
  /** The body of a refusal with a Content-Length ('' otherwise). */
  body = '';

  constructor(
    socket: net.Socket,
    head: Buffer,
    /** The response head as it came, through its \r\n\r\n. */
    readonly response: string,
    options: ReaderOptions = {},
  ) {
    super(socket, head, { mask: true, ...options });
    const [statusLine, ...lines] = response.split('\r\n');
    this.status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
    this.headers = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) this.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
  }

  /** The Sec-WebSocket-Extensions the server agreed to ('' when none). */
  get extensions(): string {
    return this.headers['sec-websocket-extensions'] ?? '';
  }

  /** Handshake that must succeed: rejects unless the answer is a 101 with the right Sec-WebSocket-Accept. */
  static async open(port: number, options: RawOpenOptions = {}, defer?: Defer): Promise<RawClient> {
    const client = await RawClient.connect(port, options, defer);
    if (client.status !== 101) throw new Error(`handshake refused: ${client.response.split('\r\n')[0]}`);
    return client;
  }

  /**
   * Sends the upgrade request and resolves with the server's answer, whatever its status (a 101 with
   * a wrong Sec-WebSocket-Accept rejects). Rejects when the connection closes before a response.
   */
  static async connect(port: number, options: RawOpenOptions = {}, defer?: Defer): Promise<RawClient> {
    const where = { port, host: '127.0.0.1', ...(options.localAddress ? { localAddress: options.localAddress } : {}) };
    const socket = options.tls ? tls.connect({ ...where, ...options.tls }) : net.connect(where);
    defer?.(() => socket.destroy());
    const key = randomBytes(16).toString('base64');
    const extra = Array.isArray(options.headers) ? options.headers : Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`);
    const lines = [
      `GET ${options.path ?? '/'} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`,
      'Sec-WebSocket-Version: 13',
      ...(options.extensions ? [`Sec-WebSocket-Extensions: ${options.extensions}`] : []),
      ...extra,
    ];
    const request = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
    socket.write(options.after ? Buffer.concat([request, options.after]) : request);
    const { response, head } = await readHead(socket, 5000, { body: true });
    const upgraded = /^HTTP\/1\.1 101 /.test(response);
    const client = new RawClient(socket, upgraded ? head : Buffer.alloc(0), response, { autoPong: options.autoPong });
    if (upgraded) {
      const accept = client.headers['sec-websocket-accept'];
      if (accept !== acceptFor(key)) throw new Error(`wrong Sec-WebSocket-Accept: ${accept}`);
    } else if (client.headers['content-length'] !== undefined) {
      client.body = head.subarray(0, Number(client.headers['content-length'])).toString();
    }
    return client;
  }
}

// ---- HTTP by hand -------------------------------------------------------------------------

/** The value of a header in a raw response head (case-insensitive name), or undefined. */
export function headerValue(head: string, name: string): string | undefined {
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name.toLowerCase()) return line.slice(colon + 1).trim();
  }
  return undefined;
}

/**
 * Reads an HTTP message head off a socket; returns it and the bytes after it. With `body`, an
 * answer other than a 101 that has a Content-Length is awaited until that many bytes followed it.
 */
export function readHead(socket: net.Socket, ms = 5000, options: { body?: boolean } = {}): Promise<{ response: string; head: Buffer }> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    let failure: Error | null = null;
    const timer = setTimeout(() => finish(new Error(`no HTTP head within ${ms} ms`)), ms);
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
      if (end === -1) return;
      const response = data.subarray(0, end + 4).toString('latin1');
      const rest = data.subarray(end + 4);
      if (options.body && !/^HTTP\/1\.1 101 /.test(response)) {
        const length = headerValue(response, 'content-length');
        if (length !== undefined && rest.length < Number(length)) return;
      }
      finish(null, { response, head: rest });
    };
    // An 'error' (a reset, a refused connection) is always followed by 'close': report both there.
    const onError = (error: Error) => (failure = error);
    const onClose = () =>
      finish(new Error(`connection closed before a response (${data.length} bytes${failure ? `, ${failure.message}` : ''}): ${JSON.stringify(data.toString('latin1'))}`));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.on('error', onError);
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

// ---- a raw server, for testing our client -------------------------------------------------

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

export interface RawServerOptions {
  /** The Sec-WebSocket-Extensions to answer each client's offer with ('' when it offered none); null, or no function: no such header. */
  extensions?: (offer: string) => string | null;
  /** Answer pings with (unmasked) pongs; default false, and can be changed later through `autoPong`. */
  autoPong?: boolean;
}

/**
 * A WebSocket server by hand on startRawServer: answers every opening handshake with a 101 and
 * then only records what each client sends (`peers`, one FrameReader a connection). Closed at cleanup.
 */
export class RawServer {
  /** Each client's Sec-WebSocket-Extensions offer ('' when none), in order. */
  readonly offers: string[] = [];
  readonly peers: FrameReader[] = [];
  private pong: boolean;

  private constructor(
    readonly server: net.Server,
    readonly port: number,
    private readonly respond: RawServerOptions['extensions'],
    autoPong: boolean,
  ) {
    this.pong = autoPong;
  }

  static async start(defer: Defer, options: RawServerOptions = {}): Promise<RawServer> {
    let raw: RawServer | undefined;
    const { server, port } = await startRawServer(defer, (socket, request, head) => raw!.accept(socket, request, head));
    raw = new RawServer(server, port, options.extensions, options.autoPong ?? false);
    return raw;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Every frame from every client, connection by connection. */
  get frames(): RawFrame[] {
    return this.peers.flatMap((peer) => peer.frames);
  }

  get autoPong(): boolean {
    return this.pong;
  }

  set autoPong(on: boolean) {
    this.pong = on;
    for (const peer of this.peers) peer.autoPong = on;
  }

  private accept(socket: net.Socket, request: string, head: Buffer): void {
    const offer = headerValue(request, 'sec-websocket-extensions') ?? '';
    this.offers.push(offer);
    const extensions = this.respond ? this.respond(offer) : null;
    socket.write(accept101(request, extensions === null ? [] : [`Sec-WebSocket-Extensions: ${extensions}`]));
    this.peers.push(new FrameReader(socket, head, { autoPong: this.pong }));
  }
}

// ---- watching what a server constructs ----------------------------------------------------

/**
 * Records every net.Socket constructed from now until `stop()`, on either side: node's Socket
 * constructor adds its own 'end' listener through `on`, which is watched on the prototype (the
 * network itself is untouched). `serverSide(port)`: the ones whose local port is `port`.
 */
export function watchSockets(): { serverSide(port: number): net.Socket[]; stop(): void } {
  const seen = new Set<net.Socket>();
  const proto = net.Socket.prototype as net.Socket & { on: net.Socket['on'] };
  const inherited = proto.on;
  proto.on = function (this: net.Socket, ...args: Parameters<net.Socket['on']>) {
    seen.add(this);
    return inherited.apply(this, args);
  } as net.Socket['on'];
  return {
    serverSide: (port) => [...seen].filter((socket) => socket.localPort === port),
    stop: () => {
      delete (proto as { on?: unknown }).on;
      if (proto.on !== inherited) proto.on = inherited;
    },
  };
}

/**
 * How many connections to local `port` are still open in this process, net.Socket or not: a
 * handle the server took without one (a libuv TCP) counts by its own address. The listening
 * handle has no peer and is not counted.
 */
export function serverHandles(port: number): number {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  let count = 0;
  for (const handle of handles) {
    if (handle instanceof net.Socket) {
      if (handle.localPort === port && handle.remotePort !== undefined) count++;
      continue;
    }
    const tcp = handle as { getsockname?(out: { port?: number }): number; getpeername?(out: object): number };
    if (typeof tcp.getsockname !== 'function' || typeof tcp.getpeername !== 'function') continue;
    const local: { port?: number } = {};
    if (tcp.getsockname(local) === 0 && local.port === port && tcp.getpeername({}) === 0) count++;
  }
  return count;
}
