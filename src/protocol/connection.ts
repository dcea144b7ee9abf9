/**
 * The WebSocket state machine (RFC 6455 §5.5, §7) without I/O: bytes in through `receive()`,
 * bytes out and events through a `ConnectionEvents` object. It answers pings, runs the close
 * handshake, applies permessage-deflate when negotiated, and fails the connection on protocol
 * violations; transports only move bytes and close the TCP connection when told.
 */
import { CloseCode, DEFAULT_MAX_PAYLOAD, isValidCloseCode, MAX_CLOSE_REASON, MAX_CONTROL_PAYLOAD, Opcode } from './constants.js';
import { ProtocolError } from './errors.js';
import { DeflateCodec } from './extensions/deflate-codec.js';
import type { DeflateOptions, DeflateParams } from './extensions/permessage-deflate.js';
import { FrameParser, type ParserSink } from './parser.js';
import { encodeClosePayload, encodeFrame } from './serializer.js';
import { isUtf8 } from './utf8.js';

export type Side = 'server' | 'client';
export type WriteCallback = (error?: Error | null) => void;
export type Frame = Buffer | [Buffer, Uint8Array];

export const State = { Open: 1, Closing: 2, Closed: 3 } as const;
export type State = (typeof State)[keyof typeof State];

export interface ConnectionEvents {
  /** Bytes for the transport, in order. A pair is a header and a payload to write back to back. */
  write(data: Frame, callback?: WriteCallback): void;
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
  /** permessage-deflate, as negotiated in the handshake. */
  deflate?: { params: DeflateParams; options: DeflateOptions } | null;
}

/** An outgoing frame waiting behind a compression still in progress, so frames leave in order. */
interface Slot {
  frame: Frame | null;
  callback: WriteCallback | undefined;
}

export class Connection implements ParserSink {
  state: State = State.Open;
  /** The code and reason of the close frame received, once there is one. */
  closeCode: number = CloseCode.Abnormal;
  closeReason: Buffer = EMPTY;
  closeSent = false;
  closeReceived = false;
  error: ProtocolError | null = null;
  /** Bytes handed to `send()` that are still being compressed. */
  pendingBytes = 0;

  private readonly parser: FrameParser;
  private readonly masked: boolean;
  private readonly streaming: boolean;
  private readonly codec: DeflateCodec | null;
  private continuing = false;
  private compressingMessage = false;
  /** Frames waiting behind a compression; null while nothing waits. */
  private slots: Slot[] | null = null;

  constructor(
    readonly side: Side,
    private readonly events: ConnectionEvents,
    options: ConnectionOptions = {},
  ) {
    const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.masked = side === 'client';
    this.streaming = options.streaming ?? false;
    this.codec = options.deflate ? new DeflateCodec(options.deflate.params, options.deflate.options, maxPayload) : null;
    this.parser = new FrameParser(this, {
      expectMasked: side === 'server',
      maxPayload,
      streaming: this.streaming,
      allowRsv1: this.codec !== null,
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
  send(data: Uint8Array, isBinary: boolean, fin = true, callback?: WriteCallback): boolean {
    if (this.closeSent) return false;
    const opcode = this.continuing ? Opcode.Continuation : isBinary ? Opcode.Binary : Opcode.Text;
    this.continuing = !fin;
    const codec = this.codec;
    // Whether a message is compressed is decided on its first frame (RSV1 goes there alone).
    if (opcode !== Opcode.Continuation) this.compressingMessage = codec !== null && data.length >= codec.threshold;
    if (!this.compressingMessage) {
      this.output(encodeFrame(opcode, data, fin, false, this.masked), callback);
      if (fin && this.deferred) this.sendDeferred();
      return true;
    }
    const slot: Slot = { frame: null, callback };
    (this.slots ??= []).push(slot);
    this.pendingBytes += data.length;
    codec!.compress(data, fin, (error, compressed) => {
      this.pendingBytes -= data.length;
      slot.frame = error ? EMPTY_FRAME : encodeFrame(opcode, compressed, fin, opcode !== Opcode.Continuation, this.masked);
      this.flushSlots();
    });
    // Slots keep the order: deferred frames go in behind this last fragment.
    if (fin && this.deferred) this.sendDeferred();
    return true;
  }

  /**
   * Writes a whole message frame serialized elsewhere (e.g. once for many connections). In the
   * middle of a fragmented message it would break the frame sequence, so it waits for its end.
   */
  sendFrame(frame: Frame): boolean {
    if (this.closeSent) return false;
    if (this.continuing) (this.deferred ??= []).push(frame);
    else this.output(frame, undefined);
    return true;
  }

  /** Whole-message frames that came while a fragmented message was being sent: they follow it. */
  private deferred: Frame[] | null = null;

  private sendDeferred(): void {
    const deferred = this.deferred!;
    this.deferred = null;
    for (const frame of deferred) this.output(frame, undefined);
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
    this.output(encodeFrame(opcode, data, true, false, this.masked), callback);
    return true;
  }

  /** Starts (or completes) the close handshake. Without a code, the close frame carries none. */
  close(code?: number, reason: string | Uint8Array = ''): void {
    checkClose(code, reason);
    if (this.closeSent) return;
    this.writeClose(code, reason);
    if (this.closeReceived) this.finish();
  }

  /** Frees compression state; call when the transport is gone. Nothing is delivered after it. */
  destroy(): void {
    this.destroyed = true;
    this.codec?.close();
  }

  private destroyed = false;

  private output(frame: Frame, callback: WriteCallback | undefined): void {
    if (this.slots === null) this.events.write(frame, callback);
    else this.slots.push({ frame, callback });
  }

  private flushSlots(): void {
    const slots = this.slots!;
    while (slots.length > 0 && slots[0].frame !== null) {
      const slot = slots.shift()!;
      if (slot.frame !== EMPTY_FRAME) this.events.write(slot.frame!, slot.callback);
    }
    if (slots.length > 0) return;
    this.slots = null;
    if (this.afterOutput) {
      const next = this.afterOutput;
      this.afterOutput = null;
      next();
    }
  }

  /** Runs `next` once every frame already sent has been written (the transport may close after it). */
  private whenWritten(next: () => void): void {
    if (this.slots === null) next();
    else this.afterOutput = next;
  }

  private afterOutput: (() => void) | null = null;

  private writeClose(code: number | undefined, reason: string | Uint8Array): void {
    this.closeSent = true;
    this.state = State.Closing;
    this.output(encodeFrame(Opcode.Close, encodeClosePayload(code, reason), true, false, this.masked), undefined);
  }

  private finish(): void {
    this.state = State.Closed;
    this.whenWritten(() => this.events.closed(this.closeCode, this.closeReason));
  }

  // ParserSink: what the parser found, in order.

  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
    if (!compressed) return this.deliver(data, isBinary);
    // Nothing after this message may overtake it while it inflates.
    this.parser.pause();
    this.codec!.decompress(data, (error, inflated) => {
      // Gone meanwhile: the transport has reported the close, so no message may follow it (and a
      // closed codec answers a job that was still waiting for a zlib slot with nothing).
      if (this.destroyed || this.error || this.closeReceived) return;
      if (error) return this.onProtocolError(error);
      if (!isBinary && !isUtf8(inflated)) {
        return this.onProtocolError(new ProtocolError(CloseCode.InvalidPayload, 'Invalid UTF-8 in text message'));
      }
      this.deliver(inflated, isBinary);
      this.parser.resume();
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
    if (!this.closeSent) this.output(encodeFrame(Opcode.Pong, data, true, false, this.masked), undefined);
    this.events.ping(data);
  }

  onPong(data: Buffer): void {
    this.events.pong(data);
  }

  onCloseFrame(code: number, reason: Buffer): void {
    this.closeReceived = true;
    // Nothing may follow a close frame (§5.5.1). receive() drops later chunks; pausing keeps the
    // parser from delivering frames that came after it in the same chunk.
    this.parser.pause();
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
    this.whenWritten(() => this.events.failed(error));
  }
}

const EMPTY = Buffer.alloc(0);
/** Marks a slot whose compression was abandoned (the connection is closing): nothing to write. */
const EMPTY_FRAME: Frame = Buffer.alloc(0);

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
