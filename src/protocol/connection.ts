/**
 * The WebSocket state machine (RFC 6455 §5.5, §7) without I/O: bytes in through `receive()`,
 * bytes out through `takeOutput()`, events through a `ConnectionEvents` object. It answers pings,
 * runs the close handshake, applies permessage-deflate when negotiated, and fails the connection on
 * protocol violations; transports only move bytes, pause their source when `receive()` says so,
 * and close the TCP connection when told.
 */
import { CloseCode, DEFAULT_MAX_PAYLOAD, isValidCloseCode, MAX_CLOSE_REASON, MAX_CONTROL_PAYLOAD, Opcode } from './constants.js';
import { ProtocolError } from './errors.js';
import { DeflateCodec } from './extensions/deflate-codec.js';
import type { DeflateOptions, DeflateParams } from './extensions/permessage-deflate.js';
import { Outbox, frameSize, type Batch, type Frame, type WriteCallback } from './outbox.js';
import { FrameParser, type ParserSink } from './parser.js';
import { encodeClosePayload, encodeFrame } from './serializer.js';
import { isUtf8 } from './utf8.js';

export type { Batch, Frame, WriteCallback } from './outbox.js';
export type Side = 'server' | 'client';

export const State = { Open: 1, Closing: 2, Closed: 3 } as const;
export type State = (typeof State)[keyof typeof State];

export interface ConnectionEvents {
  /** Output is ready: call `takeOutput()` (now, or once the current chunk is handled) and write it. */
  output(): void;
  /**
   * The connection may take bytes again after `receive()` returned false (or after `pause()`),
   * or finished inflating a message: look at `accepting` to see whether to read on.
   */
  resumeReading(): void;
  message(data: Buffer, isBinary: boolean): void;
  /** A piece of a message, with `streaming: true`. */
  fragment(data: Buffer, isBinary: boolean, fin: boolean): void;
  /**
   * Asked when a ping arrives, before it is answered: false leaves it unanswered and unreported
   * (e.g. it was over a rate limit). Without this method every ping is admitted.
   */
  admitPing?(data: Buffer): boolean;
  /**
   * A ping, reported once its pong is queued (§5.5.2: the pong is owed whatever the application
   * does on hearing of the ping, a close included). The return value is not used.
   */
  ping(data: Buffer): boolean | void;
  pong(data: Buffer): void;
  /**
   * Both close frames have been exchanged (§7.1.2): the server closes TCP now, the client waits
   * for the server to do it.
   */
  closed(code: number, reason: Buffer): void;
  /** The peer broke the protocol; a close frame with `error.code` was queued (§7.1.7). */
  failed(error: ProtocolError): void;
}

export interface ConnectionOptions {
  maxPayload?: number;
  streaming?: boolean;
  /** permessage-deflate, as negotiated in the handshake. */
  deflate?: { params: DeflateParams; options: DeflateOptions } | null;
  /** Answer pings with pongs (default true). */
  autoPong?: boolean;
}

export class Connection implements ParserSink {
  state: State = State.Open;
  /** The code and reason of the close frame received, once there is one. */
  closeCode: number = CloseCode.Abnormal;
  closeReason: Buffer = EMPTY;
  closeSent = false;
  closeReceived = false;
  error: ProtocolError | null = null;
  /**
   * Set by the transport while its socket holds more than it should: pongs then wait here, and
   * only the latest ping is answered (§5.5.3), so a ping flood from a peer that never reads holds
   * one pong, not one per ping.
   */
  congested = false;

  private readonly parser: FrameParser;
  private readonly masked: boolean;
  private readonly streaming: boolean;
  private readonly autoPong: boolean;
  private readonly codec: DeflateCodec | null;
  private readonly outbox = new Outbox();
  /**
   * Bytes of the close frame while it waits in the outbox: not counted in `bufferedAmount`, which
   * is application data (WHATWG: "does not include framing overhead"), so close() leaves it as is.
   */
  private closeFrameBytes = 0;
  private pongPayload: Buffer | null = null;
  private signalled = false;
  private continuing = false;
  private compressingMessage = false;
  private inflating = false;
  private paused = false;
  /** The caller was told to stop feeding bytes (receive() returned false, or pause()). */
  private blocked = false;
  private destroyed = false;
  private afterCompression: (() => void) | null = null;

  constructor(
    readonly side: Side,
    private readonly events: ConnectionEvents,
    options: ConnectionOptions = {},
  ) {
    const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.masked = side === 'client';
    this.streaming = options.streaming ?? false;
    this.autoPong = options.autoPong ?? true;
    this.codec = options.deflate ? new DeflateCodec(options.deflate.params, options.deflate.options, maxPayload) : null;
    this.parser = new FrameParser(this, {
      expectMasked: side === 'server',
      maxPayload,
      streaming: this.streaming,
      allowRsv1: this.codec !== null,
    });
  }

  /**
   * Feeds bytes from the peer. Returns false when the connection cannot take more for now (a
   * message is being inflated, or the application paused): stop reading until `resumeReading`.
   * What is left of this chunk is held meanwhile, so at most one read waits here. Anything after
   * the peer's close frame is ignored (§5.5.1). `transient`: the caller reuses `chunk` once this
   * returns (one read buffer for many connections); whatever must outlive the call is copied.
   */
  receive(chunk: Buffer, transient = false): boolean {
    if (this.closeReceived || this.error || this.destroyed) return true;
    this.parser.push(chunk, transient);
    // A message inflating at the very end of the chunk holds nothing yet: reading on costs at
    // most one more chunk held, and spares a pause and a resume per message in request/response.
    if (this.accepting || (!this.paused && !this.parser.holding)) return true;
    this.blocked = true;
    return false;
  }

  /** Whether bytes fed now would be parsed (not held). */
  get accepting(): boolean {
    return !this.parser.isPaused || this.closeReceived || this.error !== null || this.destroyed;
  }

  /** A message is being inflated: what came after it waits for it. */
  get busy(): boolean {
    return this.inflating;
  }

  /** The application stops taking messages: parsing stops after the current frame. */
  pause(): void {
    this.paused = true;
    this.blocked = true;
    this.parser.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.inflating) this.parseOn();
  }

  private parseOn(): void {
    this.parser.resume();
    if (this.blocked && this.accepting) {
      this.blocked = false;
      this.events.resumeReading();
    }
  }

  /** Bytes waiting to be taken by the transport: frames, messages being compressed, a pong owed. */
  get bufferedAmount(): number {
    return this.outbox.bytes - this.closeFrameBytes + (this.pongPayload === null ? 0 : this.pongPayload.length + 6);
  }

  /** Whether a fragmented message is being sent (the next `send()` continues it). */
  get sendingMessage(): boolean {
    return this.continuing;
  }

  /** Everything ready to write, in order, removed from the queue; null when nothing is. */
  takeOutput(): Batch | null {
    this.signalled = false;
    this.queueOwedPong();
    const batch = this.outbox.take();
    // Nothing is queued after the close frame: an empty outbox is one that gave it away.
    if (this.outbox.bytes === 0) this.closeFrameBytes = 0;
    return batch;
  }

  /**
   * Sends a data frame. With `fin: false` the message goes on in the next call (§5.4); calls after
   * the first continue it whatever `isBinary` says. Returns false once a close frame has been sent.
   */
  send(data: Uint8Array, isBinary: boolean, fin = true, callback?: WriteCallback): boolean {
    if (this.closeSent) return false;
    const opcode = this.continuing ? Opcode.Continuation : isBinary ? Opcode.Binary : Opcode.Text;
    this.continuing = !fin;
    const codec = this.codec;
    // Whether a message is compressed is decided on its first frame (RSV1 goes there alone).
    if (opcode !== Opcode.Continuation) this.compressingMessage = codec !== null && data.length >= codec.threshold;
    if (!this.compressingMessage) {
      this.queue(encodeFrame(opcode, data, fin, false, this.masked), callback);
    } else {
      const slot = this.outbox.reserve(data.length, callback);
      codec!.compress(data, fin, (error, compressed) => {
        if (this.destroyed) return;
        this.outbox.fill(slot, error ? null : encodeFrame(opcode, compressed, fin, opcode !== Opcode.Continuation, this.masked));
        this.signal();
        // A message that could not be compressed leaves a hole in what the peer gets: end here.
        if (error && !this.closeSent) this.close(CloseCode.InternalError, 'Compression failed');
        if (!this.outbox.compressing && this.afterCompression) {
          const next = this.afterCompression;
          this.afterCompression = null;
          next();
        }
      });
    }
    // Frames that waited for this message's end follow it.
    if (fin) {
      this.outbox.release();
      this.signal();
    }
    return true;
  }

  /**
   * Queues a whole-message frame serialized elsewhere (e.g. once for many connections). In the
   * middle of a fragmented message it would break the frame sequence, so it waits for its end.
   */
  sendFrame(frame: Frame, callback?: WriteCallback): boolean {
    if (this.closeSent) return false;
    if (this.continuing) this.outbox.hold(frame, callback);
    else this.queue(frame, callback);
    return true;
  }

  ping(data: Uint8Array = EMPTY, callback?: WriteCallback): boolean {
    return this.control(Opcode.Ping, data, callback);
  }

  pong(data: Uint8Array = EMPTY, callback?: WriteCallback): boolean {
    return this.control(Opcode.Pong, data, callback);
  }

  private control(opcode: number, data: Uint8Array, callback?: WriteCallback): boolean {
    if (data.length > MAX_CONTROL_PAYLOAD) throw new RangeError('Control frame payloads are limited to 125 bytes');
    if (this.closeSent) return false;
    this.queue(encodeFrame(opcode, data, true, false, this.masked), callback);
    return true;
  }

  /** Starts (or completes) the close handshake. Without a code, the close frame carries none. */
  close(code?: number, reason: string | Uint8Array = ''): void {
    checkClose(code, reason);
    if (this.closeSent) return;
    this.writeClose(code, reason);
    if (this.closeReceived) this.finish();
  }

  /**
   * The transport is gone: frees compression state, drops what is queued (each send callback gets
   * `error`), and delivers nothing more.
   */
  destroy(error: Error = new Error('The connection closed before the message was sent')): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.parser.stop();
    this.codec?.close();
    this.pongPayload = null;
    this.outbox.fail(error);
    this.closeFrameBytes = 0;
  }

  private queue(frame: Frame, callback: WriteCallback | undefined): void {
    this.outbox.push(frame, callback);
    this.signal();
  }

  private signal(): void {
    if (this.signalled || !this.outbox.ready) return;
    this.signalled = true;
    this.events.output();
  }

  /** Runs `next` once every frame already sent is queued ready (the transport may close after it). */
  private whenQueued(next: () => void): void {
    if (!this.outbox.compressing) next();
    else this.afterCompression = next;
  }

  private queueOwedPong(): void {
    const pong = this.pongPayload;
    if (pong === null) return;
    this.pongPayload = null;
    this.outbox.push(encodeFrame(Opcode.Pong, pong, true, false, this.masked), undefined);
  }

  private writeClose(code: number | undefined, reason: string | Uint8Array): void {
    // Nothing may follow our close frame (§5.5.1): a pong still owed goes out before it.
    this.queueOwedPong();
    this.closeSent = true;
    this.state = State.Closing;
    const frame = encodeFrame(Opcode.Close, encodeClosePayload(code, reason), true, false, this.masked);
    // Set before queue(): a transport may take the output at once, which clears it.
    this.closeFrameBytes = frameSize(frame);
    this.queue(frame, undefined);
  }

  private finish(): void {
    this.state = State.Closed;
    this.whenQueued(() => this.events.closed(this.closeCode, this.closeReason));
  }

  // ParserSink: what the parser found, in order.

  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
    if (!compressed) return this.deliver(data, isBinary);
    // Nothing after this message may overtake it while it inflates: the parser holds the rest and
    // receive() tells the transport to stop reading.
    this.inflating = true;
    this.parser.pause();
    this.codec!.decompress(data, (error, inflated) => {
      this.inflating = false;
      // The transport waits for an inflate before it reports a closed socket, so this only
      // happens when it tore the connection down for another reason.
      if (this.destroyed) return;
      if (error) this.onProtocolError(error);
      else if (!isBinary && !isUtf8(inflated)) this.onProtocolError(new ProtocolError(CloseCode.InvalidPayload, 'Invalid UTF-8 in text message'));
      else this.deliver(inflated, isBinary);
      if (!this.paused) this.parser.resume();
      // The parser may have started inflating the next message already.
      if (this.inflating) return;
      if (this.accepting) this.blocked = false;
      this.events.resumeReading();
    });
  }

  private deliver(data: Buffer, isBinary: boolean): void {
    if (this.streaming) this.events.fragment(data, isBinary, true);
    else this.events.message(data, isBinary);
  }

  onFragment(data: Buffer, isBinary: boolean, fin: boolean): void {
    this.events.fragment(data, isBinary, fin);
  }

  onPing(data: Buffer): void {
    if (this.events.admitPing?.(data) === false) return;
    if (!this.closeSent && this.autoPong) {
      // The payload is a view of a read: a pong owed for later gets a copy of its own.
      if (this.congested) this.pongPayload = Buffer.from(data);
      else this.queue(encodeFrame(Opcode.Pong, data, true, false, this.masked), undefined);
    }
    this.events.ping(data);
  }

  onPong(data: Buffer): void {
    this.events.pong(data);
  }

  onCloseFrame(code: number, reason: Buffer): void {
    this.closeReceived = true;
    // Nothing may follow a close frame (§5.5.1): the parser drops the rest.
    this.parser.stop();
    this.closeCode = code;
    this.closeReason = Buffer.from(reason);
    // Echo the code (§5.5.1); a close that carried no code is answered with none.
    if (!this.closeSent) this.writeClose(code === CloseCode.NoStatus ? undefined : code, '');
    this.finish();
  }

  onProtocolError(error: ProtocolError): void {
    this.error = error;
    this.parser.stop();
    if (!this.closeSent) this.writeClose(error.code, truncate(error.message));
    this.state = State.Closed;
    this.whenQueued(() => this.events.failed(error));
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
