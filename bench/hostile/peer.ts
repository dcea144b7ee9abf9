/**
 * An attacking peer: a raw TCP connection upgraded by hand (the handshake helpers of
 * test/helpers/raw.ts), which writes prepared frame bytes as fast as the socket takes them and
 * watches what the server sends back only for a close frame, a "sync" pong or the end of TCP.
 * It skips every other frame without keeping it, so that a flood of pongs costs the attacker
 * nothing but the read.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { acceptFor, closePayload, frame, headerValue, OP, readHead, upgradeRequest } from '../../test/helpers/raw.js';

export const SYNC = Buffer.from('sync');
const EMPTY = Buffer.alloc(0);

export interface PeerOptions {
  /** Offer permessage-deflate and require it in the answer. */
  deflate?: boolean;
  /** Read the socket during the attack (false: pause it, as a peer that never reads). */
  read?: boolean;
}

export class Peer {
  /** Close code from the server's close frame (1005 when it had none); null until one came. */
  closeCode: number | null = null;
  /** The socket closed or failed: nothing more can be written. */
  gone = false;
  /** TCP closed (or reset) by the server. */
  ended = false;
  /** What the attack sent so far, in its own unit; when the close frame was seen. */
  sent = 0;
  noticedAt: number | null = null;
  private syncs = 0;
  private pending = EMPTY;
  private skip = 0;
  private reading = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('error', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('end', () => this.finish());
  }

  static async open(port: number, options: PeerOptions = {}): Promise<Peer> {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const key = randomBytes(16).toString('base64');
    const headers: Record<string, string> = { 'Sec-WebSocket-Key': key };
    if (options.deflate) headers['Sec-WebSocket-Extensions'] = 'permessage-deflate';
    socket.write(upgradeRequest(port, { headers }));
    const { response, head } = await readHead(socket, 15_000);
    if (!response.startsWith('HTTP/1.1 101 ')) throw new Error(`handshake refused: ${response.split('\r\n')[0]}`);
    if (headerValue(response, 'sec-websocket-accept') !== acceptFor(key)) throw new Error('wrong Sec-WebSocket-Accept');
    if (options.deflate && !/permessage-deflate/i.test(headerValue(response, 'sec-websocket-extensions') ?? '')) {
      throw new Error('permessage-deflate was not accepted');
    }
    const peer = new Peer(socket);
    peer.take(head);
    if (options.read === false) socket.pause();
    else peer.startReading();
    return peer;
  }

  /** Reads from now on (a paused peer at the end of its attack, to see how it was closed). */
  startReading(): void {
    if (this.reading) return;
    this.reading = true;
    this.socket.on('data', (chunk: Buffer) => this.take(chunk));
    this.socket.resume();
  }

  /** Writes `bytes`; resolves at once, or once the socket drained, closed or `deadline` passed. */
  async write(bytes: Buffer, deadline: number): Promise<void> {
    if (this.gone || this.socket.write(bytes)) return;
    await this.until(() => this.gone, deadline, 'drain');
  }

  /** Sends a ping "sync" and waits for its pong (or the end of the connection) until `deadline`. */
  async sync(deadline: number): Promise<boolean> {
    if (this.gone || this.closeCode !== null) return false;
    const before = this.syncs;
    this.socket.write(frame(OP.ping, SYNC));
    await this.until(() => this.syncs > before || this.gone || this.closeCode !== null, deadline);
    return this.syncs > before;
  }

  /** Waits until the server closed the connection, or `deadline`. */
  async closed(deadline: number): Promise<void> {
    await this.until(() => this.gone, deadline);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private finish(): void {
    this.gone = true;
    this.ended = true;
  }

  private async until(done: () => boolean, deadline: number, event?: 'drain'): Promise<void> {
    while (!done() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, event ? Math.max(0, deadline - Date.now()) : 5);
        const socket = this.socket;
        function finish() {
          clearTimeout(timer);
          socket.off('drain', finish).off('close', finish);
          resolve();
        }
        if (event) socket.once('drain', finish).once('close', finish);
      });
      if (event) return;
    }
  }

  /** Walks frame headers (server frames are unmasked), skipping data payloads without keeping them. */
  private take(chunk: Buffer): void {
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      chunk = chunk.subarray(n);
    }
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let pos = 0;
    while (data.length - pos >= 2) {
      let length = data[pos + 1] & 0x7f;
      let q = pos + 2;
      if (length === 126) {
        if (data.length < q + 2) break;
        length = data.readUInt16BE(q);
        q += 2;
      } else if (length === 127) {
        if (data.length < q + 8) break;
        length = Number(data.readBigUInt64BE(q));
        q += 8;
      }
      const opcode = data[pos] & 0x0f;
      if (opcode < 0x8) {
        if (data.length - q < length) {
          this.skip = length - (data.length - q);
          pos = data.length;
          break;
        }
      } else {
        if (data.length - q < length) break;
        this.control(opcode, data.subarray(q, q + length));
      }
      pos = q + length;
    }
    this.pending = pos < data.length ? Buffer.from(data.subarray(pos)) : EMPTY;
  }

  private control(opcode: number, payload: Buffer): void {
    if (opcode === OP.pong && payload.equals(SYNC)) this.syncs++;
    if (opcode !== OP.close || this.closeCode !== null) return;
    this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    this.noticedAt = Date.now();
    // Answer as a peer would, so that the server can finish the closing handshake.
    if (!this.gone) this.socket.end(frame(OP.close, closePayload(this.closeCode === 1005 ? 1000 : this.closeCode)));
    this.gone = true;
  }
}
