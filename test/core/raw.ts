/**
 * A raw WebSocket peer over node:net for tests: it does the handshake by hand and writes and
 * reads frames byte for byte, so a test can send what no well-behaved library would.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { WebSocketServer, type ServerOptions } from '../../src/index.js';

export interface RawFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Builds a frame from parts; every field can be made wrong on purpose. */
export function frame(opcode: number, payload: Buffer | string = Buffer.alloc(0), options: { fin?: boolean; rsv?: number; mask?: boolean; length?: bigint } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const { fin = true, rsv = 0, mask = true } = options;
  const length = options.length ?? BigInt(data.length);
  const head = [((fin ? 0x80 : 0) | (rsv << 4) | opcode) & 0xff];
  const maskBit = mask ? 0x80 : 0;
  if (length < 126n) head.push(maskBit | Number(length));
  else if (length < 65536n) head.push(maskBit | 126, Number(length >> 8n), Number(length & 0xffn));
  else {
    head.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((length >> shift) & 0xffn));
  }
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const key = randomBytes(4);
  const body = Buffer.from(data.map((b, i) => b ^ key[i & 3]));
  return Buffer.concat([Buffer.from(head), key, body]);
}

export function closePayload(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return payload;
}

/** Parses whole frames out of `buffer`; returns them and the bytes left over. */
export function parseFrames(buffer: Buffer): { frames: RawFrame[]; rest: Buffer } {
  const frames: RawFrame[] = [];
  let pos = 0;
  while (buffer.length - pos >= 2) {
    const b0 = buffer[pos];
    const b1 = buffer[pos + 1];
    let length = b1 & 0x7f;
    let q = pos + 2;
    if (length === 126) {
      if (buffer.length - q < 2) break;
      length = buffer.readUInt16BE(q);
      q += 2;
    } else if (length === 127) {
      if (buffer.length - q < 8) break;
      length = Number(buffer.readBigUInt64BE(q));
      q += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const keyAt = q;
    if (masked) q += 4;
    if (buffer.length - q < length) break;
    let payload = Buffer.from(buffer.subarray(q, q + length));
    if (masked) payload = Buffer.from(payload.map((b, i) => b ^ buffer[keyAt + (i & 3)]));
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload });
    pos = q + length;
  }
  return { frames, rest: buffer.subarray(pos) };
}

/** A raw client: connected and upgraded, collecting frames until the server closes TCP. */
export class RawClient {
  frames: RawFrame[] = [];
  ended: Promise<void>;
  private pending = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket, head: Buffer) {
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk) => this.take(chunk));
    if (head.length) this.take(head);
  }

  static async open(port: number, path = '/', extraHeaders = ''): Promise<RawClient> {
    const socket = tcpConnect(port, '127.0.0.1');
    const key = randomBytes(16).toString('base64');
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`,
    );
    const { head, response } = await readResponse(socket);
    if (!response.startsWith('HTTP/1.1 101')) throw new Error(`handshake refused: ${response.split('\r\n')[0]}`);
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    if (!response.includes(`Sec-WebSocket-Accept: ${accept}`)) throw new Error('wrong Sec-WebSocket-Accept');
    return new RawClient(socket, head);
  }

  private take(chunk: Buffer): void {
    const { frames, rest } = parseFrames(Buffer.concat([this.pending, chunk]));
    this.pending = Buffer.from(rest);
    this.frames.push(...frames);
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves once a frame with `opcode` has arrived (or rejects after `ms`). */
  async next(opcode: number, ms = 5000): Promise<RawFrame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find((f) => f.opcode === opcode);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no frame with opcode ${opcode} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** The close code in the server's close frame, once it came and TCP closed. */
  async closeCode(ms = 5000): Promise<number> {
    const close = await this.next(0x8, ms);
    await Promise.race([this.ended, new Promise((_, reject) => setTimeout(() => reject(new Error('TCP not closed')), ms))]);
    return close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
  }
}

/** Reads an HTTP response head; returns it and any bytes after it. */
export function readResponse(socket: Socket): Promise<{ response: string; head: Buffer }> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve({ response: data.subarray(0, end + 4).toString('latin1'), head: data.subarray(end + 4) });
    };
    const onClose = () => reject(new Error(`closed before a response: ${data.toString('latin1')}`));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** Sends raw bytes as a request and returns the whole response (until the server closes). */
export function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString('latin1')));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), 3000);
  });
}

/** An echo server on a free port. */
export async function echoServer(options: Omit<ServerOptions, 'port'> = {}): Promise<{ server: WebSocketServer; port: number }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return { server, port: (server.address() as { port: number }).port };
}
