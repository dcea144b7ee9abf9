/**
 * The WebSocket state machine (RFC 6455 §5.5, §7) without I/O: bytes in through `receive()`,
 * bytes out and events through a `ConnectionEvents` object. It answers pings, runs the close
 * handshake and fails the connection on protocol violations; transports only move bytes and
 * close the TCP connection when told.
 */
import { CloseCode, DEFAULT_MAX_PAYLOAD, isValidCloseCode, MAX_CLOSE_REASON, MAX_CONTROL_PAYLOAD, Opcode } from './constants.js';
import type { ProtocolError } from './errors.js';
import { FrameParser, type ParserSink } from './parser.js';
import { encodeClosePayload, encodeFrame } from './serializer.js';

export type Side = 'server' | 'client';

export const State = { Open: 1, Closing: 2, Closed: 3 } as const;
export type State = (typeof State)[keyof typeof State];

export interface ConnectionEvents {
  /** Bytes for the transport, in order. A pair is a header and a payload to write back to back. */
  write(data: Buffer | [Buffer, Uint8Array]): void;
  message(data: Buffer, isBinary: boolean): void;
  /** A piece of a message, with `streaming: true`. */
  fragment(data: Buffer, isBinary: boolean, fin: boolean): void;
  /** A ping, after its pong was written. */
  ping(data: Buffer): void;
  pong(data: Buffer): void;
  /**
   * Both close frames have been exchanged (§7.1.2): the server closes TCP now, the client waits
   * for the server to do it.
   */
  closed(code: number, reason: Buffer): void;
  /** The peer broke the protocol; a close frame with `error.code` was written (§7.1.7). */
  failed(error: ProtocolError): void;
}

export interface ConnectionOptions {
  maxPayload?: number;
  streaming?: boolean;
}

export class Connection implements ParserSink {
  state: State = State.Open;
  /** The code and reason of the close frame received, once there is one. */
  closeCode: number = CloseCode.Abnormal;
  closeReason: Buffer = Buffer.alloc(0);
  closeSent = false;
  closeReceived = false;
  error: ProtocolError | null = null;

  private readonly parser: FrameParser;
  private readonly masked: boolean;
  private continuing = false;

  constructor(
    readonly side: Side,
    private readonly events: ConnectionEvents,
    options: ConnectionOptions = {},
  ) {
    this.masked = side === 'client';
    this.parser = new FrameParser(this, {
      expectMasked: side === 'server',
      maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
      streaming: options.streaming,
    });
  }

  /** Feeds bytes from the peer. Anything after its close frame is ignored (§5.5.1). */
  receive(chunk: Buffer): void {
    if (this.closeReceived || this.error) return;
    this.parser.push(chunk);
  }

  /**
   * Sends a data frame. With `fin: false` the message goes on in the next call (§5.4); calls after
   * the first continue it whatever `isBinary` says. Returns false once a close frame has been sent.
   */
  send(data: Uint8Array, isBinary: boolean, fin = true): boolean {
    if (this.closeSent) return false;
    const opcode = this.continuing ? Opcode.Continuation : isBinary ? Opcode.Binary : Opcode.Text;
    this.continuing = !fin;
    this.events.write(encodeFrame(opcode, data, fin, false, this.masked));
    return true;
  }

  ping(data: Uint8Array = EMPTY): boolean {
    return this.control(Opcode.Ping, data);
  }

  pong(data: Uint8Array = EMPTY): boolean {
    return this.control(Opcode.Pong, data);
  }

  private control(opcode: number, data: Uint8Array): boolean {
    if (data.length > MAX_CONTROL_PAYLOAD) throw new RangeError('Control frame payloads are limited to 125 bytes');
    if (this.closeSent) return false;
    this.events.write(encodeFrame(opcode, data, true, false, this.masked));
    return true;
  }

  /** Starts (or completes) the close handshake. Without a code, the close frame carries none. */
  close(code?: number, reason: string | Uint8Array = ''): void {
    checkClose(code, reason);
    if (this.closeSent) return;
    this.writeClose(code, reason);
    if (this.closeReceived) this.finish();
  }

  private writeClose(code: number | undefined, reason: string | Uint8Array): void {
    this.closeSent = true;
    this.state = State.Closing;
    this.events.write(encodeFrame(Opcode.Close, encodeClosePayload(code, reason), true, false, this.masked));
  }

  private finish(): void {
    this.state = State.Closed;
    this.events.closed(this.closeCode, this.closeReason);
  }

  // ParserSink: what the parser found, in order.

  onMessage(data: Buffer, isBinary: boolean): void {
    this.events.message(data, isBinary);
  }

  onFragment(data: Buffer, isBinary: boolean, fin: boolean): void {
    this.events.fragment(data, isBinary, fin);
  }

  onPing(data: Buffer): void {
    if (!this.closeSent) this.events.write(encodeFrame(Opcode.Pong, data, true, false, this.masked));
    this.events.ping(data);
  }

  onPong(data: Buffer): void {
    this.events.pong(data);
  }

  onCloseFrame(code: number, reason: Buffer): void {
    this.closeReceived = true;
    this.closeCode = code;
    this.closeReason = reason;
    // Echo the code (§5.5.1); a close that carried no code is answered with none.
    if (!this.closeSent) this.writeClose(code === CloseCode.NoStatus ? undefined : code, '');
    this.finish();
  }

  onProtocolError(error: ProtocolError): void {
    this.error = error;
    if (!this.closeSent) this.writeClose(error.code, truncate(error.message));
    this.state = State.Closed;
    this.events.failed(error);
  }
}

const EMPTY = Buffer.alloc(0);

/** Throws for a close the application may not send (§7.4): the code must be sendable, the reason short. */
export function checkClose(code: number | undefined, reason: string | Uint8Array): void {
  if (code === undefined) {
    if (reason.length > 0) throw new TypeError('A close reason needs a close code');
    return;
  }
  if (!Number.isInteger(code) || !isValidCloseCode(code)) throw new RangeError(`Invalid close code: ${code}`);
  const length = typeof reason === 'string' ? Buffer.byteLength(reason) : reason.length;
  if (length > MAX_CLOSE_REASON) throw new RangeError('A close reason is limited to 123 bytes');
}

function truncate(message: string): string {
  return message.length > MAX_CLOSE_REASON ? message.slice(0, MAX_CLOSE_REASON) : message;
}
