/**
 * A streaming frame parser (RFC 6455 §5). Bytes go in in any chunking; frames, messages and the
 * first protocol violation come out through a `ParserSink`, synchronously, in order.
 *
 * A message that arrives within one chunk is handed out as a view of that chunk (unmasked in place,
 * never copied) — or, when the chunk is transient (a read buffer the caller reuses), unmasked
 * straight into a copy of its own: the one copy it must have. One that spans chunks or frames is gathered in a `MessageBuffer`, which grows with
 * the bytes that arrived (never from a declared length) and never lets a small piece pin a large
 * read. Text is validated as it arrives, so invalid UTF-8 fails the connection in the piece where
 * it occurs. An allocation that fails is a 1009 for this connection, never an exception.
 */
import { constants } from 'node:buffer';
import { CloseCode, isValidCloseCode, MAX_CONTROL_PAYLOAD, Opcode } from './constants.js';
import { ProtocolError } from './errors.js';
import { applyMask } from './mask.js';
import { MessageBuffer } from './message-buffer.js';
import { isUtf8, Utf8Validator } from './utf8.js';

export interface ParserSink {
  /** A whole message (when not streaming). `data` may be a view of a received chunk. */
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void;
  /** A piece of a message, in streaming mode; `fin` marks its last piece. */
  onFragment(data: Buffer, isBinary: boolean, fin: boolean): void;
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  /** A close frame; `code` is 1005 when it carried none. */
  onCloseFrame(code: number, reason: Buffer): void;
  /** The first protocol violation; the parser accepts nothing after it. */
  onProtocolError(error: ProtocolError): void;
}

export interface ParserOptions {
  /** Servers require masked frames, clients refuse them (§5.1). */
  expectMasked: boolean;
  /** Largest message, in bytes, checked from frame headers before anything is buffered. */
  maxPayload: number;
  /** Deliver messages frame by frame (and large frames piece by piece) instead of whole; compressed ones stay whole. */
  streaming?: boolean;
  /** RSV1 is allowed on the first frame of a message (permessage-deflate negotiated). */
  allowRsv1?: boolean;
}

const MAX_LENGTH = constants.MAX_LENGTH;
const HEADER = 0;
const PAYLOAD = 1;
const FAILED = 2;
/** After a close frame: nothing more is parsed (§5.5.1). */
const STOPPED = 3;
const EMPTY = Buffer.alloc(0);

export class FrameParser {
  private state = HEADER;
  // A header split across chunks is gathered here (at most 14 bytes). Like the other per-message
  // state below, it is made when first needed: an idle connection holds none of it.
  private head: Buffer | null = null;
  private headLength = 0;

  // The frame being read.
  private fin = false;
  private opcode = 0;
  private masked = false;
  /** The mask key's four bytes as one number; unpacked into a shared scratch to unmask. */
  private maskWord = 0;
  private payloadLength = 0;
  private filled = 0;
  /** A control frame's payload (at most 125 bytes) when it spans chunks. */
  private control: Buffer | null = null;

  // The message being read: its opcode (0 when none), declared size so far and what arrived of it.
  private messageOpcode = 0;
  private messageCompressed = false;
  private messageLength = 0;
  private buffer: MessageBuffer | null = null;
  private utf8: Utf8Validator | null = null;

  private readonly expectMasked: boolean;
  private readonly maxPayload: number;
  private readonly streaming: boolean;
  private readonly allowRsv1: boolean;

  constructor(
    private readonly sink: ParserSink,
    options: ParserOptions,
  ) {
    this.expectMasked = options.expectMasked;
    this.maxPayload = options.maxPayload;
    this.streaming = options.streaming ?? false;
    this.allowRsv1 = options.allowRsv1 ?? false;
  }

  get failed(): boolean {
    return this.state === FAILED;
  }

  /** Whether input is being held instead of parsed (see `pause()`). */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Whether input is held, waiting for `resume()`. */
  get holding(): boolean {
    return this.held !== null && this.held.length > 0;
  }

  /**
   * Parses `chunk`. `transient`: the caller reuses the chunk's memory once this returns, so no
   * view of it may be kept or handed out: payloads are copied (once), held input too.
   */
  push(chunk: Buffer, transient = false): void {
    if (this.state >= FAILED) return;
    if (this.paused) return void (this.held ??= []).push(transient ? Buffer.from(chunk) : chunk);
    this.transient = transient;
    let pos = 0;
    const end = chunk.length;
    while (pos < end && this.state < FAILED) {
      pos = this.state === HEADER ? this.readHeader(chunk, pos) : this.readPayload(chunk, pos);
      if (this.paused && pos < end) {
        const rest = chunk.subarray(pos);
        (this.held ??= []).unshift(transient ? Buffer.from(rest) : rest);
        break;
      }
    }
    this.transient = false;
  }

  /** The chunk being parsed is reused after `push` returns. */
  private transient = false;

  /** `length` payload bytes of `chunk` from `pos`, unmasked: a view of it, or a copy of a transient one. */
  private payload(chunk: Buffer, pos: number, length: number): Buffer {
    if (length === 0) return EMPTY;
    if (this.transient) {
      const copy = Buffer.allocUnsafe(length);
      if (this.masked) applyMask(chunk, pos, copy, 0, length, this.mask());
      else chunk.copy(copy, 0, pos, pos + length);
      return copy;
    }
    const view = chunk.subarray(pos, pos + length);
    if (this.masked) applyMask(view, 0, view, 0, length, this.mask());
    return view;
  }

  /**
   * Stops parsing after the current frame, holding later input, e.g. while a compressed message is
   * inflated: what follows it must not overtake it.
   */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const held = this.held;
    while (!this.paused && held && held.length > 0 && this.state < FAILED) this.push(held.shift()!);
    if (held && held.length === 0) this.held = null;
  }

  /** Parses nothing more and lets go of what it held (after a close frame, or when torn down). */
  stop(): void {
    if (this.state < FAILED) this.state = STOPPED;
    this.release();
  }

  private paused = false;
  private held: Buffer[] | null = null;

  private release(): void {
    this.held = null;
    this.buffer = null;
    this.control = null;
  }

  private fail(code: number, message: string): number {
    this.state = FAILED;
    this.release();
    this.sink.onProtocolError(new ProtocolError(code, message));
    return Infinity;
  }

  private readHeader(chunk: Buffer, pos: number): number {
    const available = chunk.length - pos;
    if (this.headLength === 0 && available >= 2) {
      const size = headerSize(chunk[pos + 1]);
      if (available >= size) return this.decodeHeader(chunk, pos) ? this.startPayload(chunk, pos + size) : Infinity;
    }
    // The header straddles chunks: gather it, then take back the payload bytes gathered with it.
    const had = this.headLength;
    const head = (this.head ??= Buffer.allocUnsafe(14));
    const take = Math.min(14 - had, available);
    chunk.copy(head, had, pos, pos + take);
    const have = had + take;
    if (have >= 2) {
      const size = headerSize(head[1]);
      if (have >= size) {
        this.headLength = 0;
        return this.decodeHeader(head, 0) ? this.startPayload(chunk, pos + size - had) : Infinity;
      }
    }
    this.headLength = have;
    return chunk.length;
  }

  /** Reads and checks a complete header at `p`; false when it failed the connection. */
  private decodeHeader(buf: Buffer, p: number): boolean {
    const b0 = buf[p];
    const b1 = buf[p + 1];
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let q = p + 2;

    if ((b0 & 0x30) !== 0) return this.reject(CloseCode.ProtocolError, 'RSV2 and RSV3 must be clear');
    if (opcode >= 0x8) {
      if (opcode > Opcode.Pong) return this.reject(CloseCode.ProtocolError, `Invalid opcode ${opcode}`);
      if (!fin) return this.reject(CloseCode.ProtocolError, 'Control frames must not be fragmented');
      if (rsv1) return this.reject(CloseCode.ProtocolError, 'RSV1 must be clear on control frames');
      if (length > MAX_CONTROL_PAYLOAD) return this.reject(CloseCode.ProtocolError, 'Control frame payload too long');
    } else if (opcode === Opcode.Continuation) {
      if (this.messageOpcode === 0) return this.reject(CloseCode.ProtocolError, 'Continuation frame without a message');
      if (rsv1) return this.reject(CloseCode.ProtocolError, 'RSV1 must be clear on continuation frames');
    } else if (opcode <= Opcode.Binary) {
      if (this.messageOpcode !== 0) return this.reject(CloseCode.ProtocolError, 'New message inside a fragmented one');
      if (rsv1 && !this.allowRsv1) return this.reject(CloseCode.ProtocolError, 'RSV1 set without a negotiated extension');
    } else {
      return this.reject(CloseCode.ProtocolError, `Invalid opcode ${opcode}`);
    }
    if (masked !== this.expectMasked) {
      return this.reject(CloseCode.ProtocolError, masked ? 'Frames from a server must not be masked' : 'Frames from a client must be masked');
    }

    if (length === 126) {
      length = buf.readUInt16BE(q);
      q += 2;
    } else if (length === 127) {
      const high = buf.readUInt32BE(q);
      if (high & 0x80000000) return this.reject(CloseCode.ProtocolError, 'Most significant bit of a 64-bit length must be 0');
      length = high * 0x100000000 + buf.readUInt32BE(q + 4);
      q += 8;
    }
    if (opcode < 0x8) {
      // Past MAX_LENGTH no Buffer can hold the frame, whatever maxPayload allows.
      if (this.messageLength + length > this.maxPayload || length > MAX_LENGTH) {
        return this.reject(CloseCode.MessageTooBig, 'Message too big');
      }
      if (opcode !== Opcode.Continuation) {
        this.messageOpcode = opcode;
        this.messageCompressed = rsv1;
      }
      this.messageLength += length;
    } else if (opcode === Opcode.Close && length === 1) {
      return this.reject(CloseCode.ProtocolError, 'Close frame with a 1-byte payload');
    }
    if (masked) {
      this.maskWord = buf.readUInt32BE(q);
    }
    this.fin = fin;
    this.opcode = opcode;
    this.masked = masked;
    this.payloadLength = length;
    return true;
  }

  private reject(code: number, message: string): false {
    this.fail(code, message);
    return false;
  }

  /** The current frame's mask key, in a scratch shared by all parsers (unmasking is synchronous). */
  private mask(): Buffer {
    MASK.writeUInt32BE(this.maskWord >>> 0, 0);
    return MASK;
  }

  private validator(): Utf8Validator {
    return (this.utf8 ??= new Utf8Validator());
  }

  private startPayload(chunk: Buffer, pos: number): number {
    const length = this.payloadLength;
    const whole = chunk.length - pos >= length;
    if (this.opcode >= 0x8) {
      if (!whole) {
        this.control = Buffer.allocUnsafe(length);
        this.filled = 0;
        this.state = PAYLOAD;
        return pos;
      }
      this.controlFrame(this.opcode, this.payload(chunk, pos, length));
      return pos + length;
    }
    if (whole && this.fin && this.opcode !== Opcode.Continuation) {
      // The usual case: a whole message in this chunk, handed out as a view of it.
      const payload = this.payload(chunk, pos, length);
      const isText = this.messageOpcode === Opcode.Text;
      if (isText && !this.messageCompressed && !isUtf8(payload)) return this.fail(CloseCode.InvalidPayload, 'Invalid UTF-8 in text message');
      if (this.streaming && !this.messageCompressed) {
        this.endMessage();
        this.sink.onFragment(payload, !isText, true);
      } else {
        this.messageComplete(payload, !isText);
      }
      return pos + length;
    }
    this.filled = 0;
    this.state = PAYLOAD;
    // An empty frame must be taken now: no more bytes may come to move it along.
    return length === 0 ? this.readPayload(chunk, pos) : pos;
  }

  private readPayload(chunk: Buffer, pos: number): number {
    const take = Math.min(this.payloadLength - this.filled, chunk.length - pos);
    const phase = this.filled & 3;
    this.filled += take;
    const done = this.filled === this.payloadLength;
    if (done) this.state = HEADER;
    const mask = this.masked ? this.mask() : null;

    if (this.opcode >= 0x8) {
      const control = this.control!;
      if (mask) applyMask(chunk, pos, control, this.filled - take, take, mask, phase);
      else chunk.copy(control, this.filled - take, pos, pos + take);
      if (done) {
        this.control = null;
        this.controlFrame(this.opcode, control);
      }
      return pos + take;
    }

    const isText = this.messageOpcode === Opcode.Text;
    const validate = isText && !this.messageCompressed;
    const fin = done && this.fin;
    if (this.streaming && !this.messageCompressed) {
      // Streamed pieces go out as views of the chunk: nothing is gathered.
      let piece: Buffer;
      if (take === 0) piece = EMPTY;
      else if (this.transient) {
        piece = Buffer.allocUnsafe(take);
        if (mask) applyMask(chunk, pos, piece, 0, take, mask, phase);
        else chunk.copy(piece, 0, pos, pos + take);
      } else {
        piece = chunk.subarray(pos, pos + take);
        if (mask) applyMask(piece, 0, piece, 0, take, mask, phase);
      }
      if (validate && !this.validator().push(piece)) return this.fail(CloseCode.InvalidPayload, 'Invalid UTF-8 in text message');
      if (fin && validate && !this.validator().end()) return this.fail(CloseCode.InvalidPayload, 'Text message ends inside a UTF-8 sequence');
      if (fin) this.endMessage();
      this.sink.onFragment(piece, !isText, fin);
      return pos + take;
    }

    const buffer = (this.buffer ??= new MessageBuffer());
    let piece: Buffer;
    try {
      piece = buffer.append(chunk, pos, take, mask, phase, this.transient);
    } catch {
      return this.fail(CloseCode.MessageTooBig, 'Message too big to hold');
    }
    if (validate && take > 0 && !this.validator().push(piece)) return this.fail(CloseCode.InvalidPayload, 'Invalid UTF-8 in text message');
    if (!fin) return pos + take;
    if (validate && !this.validator().end()) return this.fail(CloseCode.InvalidPayload, 'Text message ends inside a UTF-8 sequence');
    let data: Buffer;
    try {
      data = buffer.take();
    } catch {
      return this.fail(CloseCode.MessageTooBig, 'Message too big to hold');
    }
    this.messageComplete(data, !isText);
    return pos + take;
  }

  private messageComplete(data: Buffer, isBinary: boolean): void {
    const compressed = this.messageCompressed;
    this.endMessage();
    this.sink.onMessage(data, isBinary, compressed);
  }

  private endMessage(): void {
    this.messageOpcode = 0;
    this.messageLength = 0;
    this.messageCompressed = false;
  }

  private controlFrame(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.Ping) return this.sink.onPing(payload);
    if (opcode === Opcode.Pong) return this.sink.onPong(payload);
    if (payload.length === 0) return this.sink.onCloseFrame(CloseCode.NoStatus, EMPTY);
    const code = payload.readUInt16BE(0);
    if (!isValidCloseCode(code)) {
      this.fail(CloseCode.ProtocolError, `Invalid close code ${code}`);
      return;
    }
    const reason = payload.subarray(2);
    if (!isUtf8(reason)) {
      this.fail(CloseCode.InvalidPayload, 'Invalid UTF-8 in close reason');
      return;
    }
    this.sink.onCloseFrame(code, reason);
  }
}

/** Header size from the second byte: base, extended length, mask key. */
const MASK = Buffer.allocUnsafe(4);

function headerSize(b1: number): number {
  const length = b1 & 0x7f;
  return 2 + (length === 126 ? 2 : length === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}
