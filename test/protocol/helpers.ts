/**
 * Test helpers for the protocol core. The frame builder here is written from RFC 6455 §5.2
 * directly and shares no code with src/protocol/serializer.ts, so parser tests are not circular.
 */
import { expect } from 'vitest';
import { FrameParser, type ParserOptions, type ParserSink } from '../../src/protocol/parser.js';
import type { ProtocolError } from '../../src/protocol/errors.js';

// Buffers compare by content in one native call; the default deep equality walks them element by
// element, which makes comparing 64 KiB payloads at hundreds of split points take minutes.
expect.addEqualityTesters([
  (a: unknown, b: unknown) => (Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : undefined),
]);

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** A 4-byte mask key; `true` picks a fixed non-trivial one. */
  mask?: Uint8Array | readonly number[] | boolean;
  /** Declare this length in the header instead of the payload's (for headers fed alone). */
  declaredLength?: number | bigint;
}

export const DEFAULT_MASK = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

export function bytes(data: Uint8Array | string | readonly number[]): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return Buffer.from(data as Uint8Array);
}

/** Latin-1 string to bytes: "\xce\xba" → [0xce, 0xba], for writing raw UTF-8 test vectors. */
export function raw(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** Naive masking, byte by byte, straight from §5.3. */
export function naiveMask(data: Uint8Array, mask: ArrayLike<number>, phase = 0): Buffer {
  const out = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ mask[(phase + i) % 4];
  return out;
}

/** Builds one frame byte by byte. */
export function frame(spec: FrameSpec): Buffer {
  const payload = spec.payload === undefined ? Buffer.alloc(0) : bytes(spec.payload);
  const fin = spec.fin ?? true;
  const maskKey =
    spec.mask === true ? DEFAULT_MASK : spec.mask === false || spec.mask === undefined ? null : Uint8Array.from(spec.mask);
  const length = BigInt(spec.declaredLength ?? payload.length);
  const out: number[] = [];
  out.push((fin ? 0x80 : 0) | (spec.rsv1 ? 0x40 : 0) | (spec.rsv2 ? 0x20 : 0) | (spec.rsv3 ? 0x10 : 0) | spec.opcode);
  const maskBit = maskKey ? 0x80 : 0;
  if (length < 126n) {
    out.push(maskBit | Number(length));
  } else if (length < 0x10000n) {
    out.push(maskBit | 126, Number(length >> 8n), Number(length & 0xffn));
  } else {
    out.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) out.push(Number((length >> shift) & 0xffn));
  }
  if (maskKey) out.push(...maskKey);
  const head = Buffer.from(out);
  return Buffer.concat([head, maskKey ? naiveMask(payload, maskKey) : payload]);
}

export function frames(...specs: FrameSpec[]): Buffer {
  return Buffer.concat(specs.map(frame));
}

export function closePayload(code: number, reason: Uint8Array | string = ''): Buffer {
  const r = bytes(reason);
  const out = Buffer.alloc(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}

/** A deterministic payload of `n` bytes (not all equal, so offsets and masks show). */
export function pattern(n: number, seed = 0): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return out;
}

export type SinkCall =
  | { type: 'message'; data: Buffer; isBinary: boolean; compressed: boolean }
  | { type: 'fragment'; data: Buffer; isBinary: boolean; fin: boolean }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'close'; code: number; reason: Buffer }
  | { type: 'error'; code: number };

/** Records every sink call, copying data (the parser may hand out views of chunks it was fed). */
export class RecordingSink implements ParserSink {
  calls: SinkCall[] = [];
  /** The raw (uncopied) buffers handed to onMessage / onFragment, for in-place checks. */
  rawData: Buffer[] = [];
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
    this.rawData.push(data);
    this.calls.push({ type: 'message', data: Buffer.from(data), isBinary, compressed });
  }
  onFragment(data: Buffer, isBinary: boolean, fin: boolean): void {
    this.rawData.push(data);
    this.calls.push({ type: 'fragment', data: Buffer.from(data), isBinary, fin });
  }
  onPing(data: Buffer): void {
    this.calls.push({ type: 'ping', data: Buffer.from(data) });
  }
  onPong(data: Buffer): void {
    this.calls.push({ type: 'pong', data: Buffer.from(data) });
  }
  onCloseFrame(code: number, reason: Buffer): void {
    this.calls.push({ type: 'close', code, reason: Buffer.from(reason) });
  }
  onProtocolError(error: ProtocolError): void {
    this.calls.push({ type: 'error', code: error.code });
  }
}

export interface Parsed {
  sink: RecordingSink;
  parser: FrameParser;
}

export function makeParser(options: Partial<ParserOptions> & { expectMasked: boolean }): Parsed {
  const sink = new RecordingSink();
  const parser = new FrameParser(sink, { maxPayload: 1 << 20, ...options });
  return { sink, parser };
}

/**
 * Feeds `data` cut at `cuts` (sorted offsets) to a fresh parser. The input is copied first: the
 * parser unmasks in place, so the same bytes cannot be fed twice.
 */
export function parseChunks(
  data: Uint8Array,
  cuts: readonly number[],
  options: Partial<ParserOptions> & { expectMasked: boolean },
): SinkCall[] {
  const copy = Buffer.from(data);
  const { sink, parser } = makeParser(options);
  let start = 0;
  for (const cut of [...cuts, copy.length]) {
    parser.push(copy.subarray(start, cut));
    start = cut;
  }
  return sink.calls;
}

export function parseWhole(data: Uint8Array, options: Partial<ParserOptions> & { expectMasked: boolean }): SinkCall[] {
  return parseChunks(data, [], options);
}

export function parseBytewise(data: Uint8Array, options: Partial<ParserOptions> & { expectMasked: boolean }): SinkCall[] {
  const cuts: number[] = [];
  for (let i = 1; i < data.length; i++) cuts.push(i);
  return parseChunks(data, cuts, options);
}

/** Streaming-mode calls, with consecutive fragments of one message merged, so chunkings compare. */
export function mergeFragments(calls: SinkCall[]): SinkCall[] {
  const out: SinkCall[] = [];
  let pending: Buffer[] = [];
  let pendingBinary = false;
  for (const call of calls) {
    if (call.type !== 'fragment') {
      out.push(call);
      continue;
    }
    pending.push(call.data);
    pendingBinary = call.isBinary;
    if (call.fin) {
      out.push({ type: 'message', data: Buffer.concat(pending), isBinary: pendingBinary, compressed: false });
      pending = [];
    }
  }
  if (pending.length > 0) out.push({ type: 'fragment', data: Buffer.concat(pending), isBinary: pendingBinary, fin: false });
  return out;
}
