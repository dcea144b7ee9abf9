/**
 * XOR masking (RFC 6455 §5.3). Masking is its own inverse, so one function serves both directions.
 *
 * Long payloads are processed 64 bits at a time over the aligned middle of the buffer: V8 compiles
 * XOR on BigUint64Array elements to plain 64-bit operations, about twice the speed of a Uint32
 * loop. The mask is rotated by the number of unaligned leading bytes so word and byte loops agree.
 * Short ones go four bytes at a time: below a few dozen bytes, setting up the word loop costs more.
 */
import { simdMask, simdUnmasker } from './mask-simd.js';

const WORD_THRESHOLD = 64;
/**
 * From this length up, WebAssembly SIMD (mask-simd.ts) beats the 64-bit loop, its two copies
 * included (measured with bench/micro/mask-threshold.mjs).
 */
export const SIMD_THRESHOLD = 2048;
const scratch = new Uint8Array(8);
const scratchWord = new BigUint64Array(scratch.buffer);

// A word view over a whole ArrayBuffer, kept while frames come from the same socket chunk, so
// unmasking many frames of one chunk makes one view rather than one per frame.
let viewedBuffer: ArrayBufferLike | null = null;
let view: BigUint64Array<ArrayBufferLike> = new BigUint64Array(0);
let viewedTarget: ArrayBufferLike | null = null;
let targetView: BigUint64Array<ArrayBufferLike> = new BigUint64Array(0);

// Only buffers of socket-chunk size are remembered: holding on to a large message's memory for the
// sake of one view would keep it alive until the next frame.
const CACHE_LIMIT = 256 * 1024;

function wordsOf(buffer: ArrayBufferLike): BigUint64Array {
  if (buffer.byteLength > CACHE_LIMIT) return new BigUint64Array(buffer, 0, buffer.byteLength >>> 3);
  if (buffer !== viewedBuffer) {
    viewedBuffer = buffer;
    view = new BigUint64Array(buffer, 0, buffer.byteLength >>> 3);
  }
  return view;
}

function targetWordsOf(buffer: ArrayBufferLike): BigUint64Array {
  if (buffer.byteLength > CACHE_LIMIT) return new BigUint64Array(buffer, 0, buffer.byteLength >>> 3);
  if (buffer !== viewedTarget) {
    viewedTarget = buffer;
    targetView = new BigUint64Array(buffer, 0, buffer.byteLength >>> 3);
  }
  return targetView;
}

/**
 * XORs `length` bytes of `source` from `sourceOffset` with `mask` into `target` at `targetOffset`
 * (which may be the same bytes: in-place unmasking). `phase` is the mask index of the first byte,
 * for payloads that are unmasked in pieces as they arrive.
 */
export function applyMask(
  source: Uint8Array,
  sourceOffset: number,
  target: Uint8Array,
  targetOffset: number,
  length: number,
  mask: Uint8Array,
  phase = 0,
): void {
  let i = 0;
  if (length >= SIMD_THRESHOLD) {
    const simd = simdUnmasker();
    if (simd !== null) return simdMask(simd, source, sourceOffset, target, targetOffset, length, mask, phase);
  }
  if (length >= WORD_THRESHOLD) {
    const sourceStart = source.byteOffset + sourceOffset;
    const targetStart = target.byteOffset + targetOffset;
    // One word loop needs source and target equally aligned; when they are not, a native copy
    // then the word loop in place beats XOR-ing byte by byte several times over.
    if ((sourceStart & 7) !== (targetStart & 7)) {
      target.set(source.subarray(sourceOffset, sourceOffset + length), targetOffset);
      return applyMask(target, targetOffset, target, targetOffset, length, mask, phase);
    }
    const head = (8 - (targetStart & 7)) & 7;
    for (; i < head; i++) {
      target[targetOffset + i] = source[sourceOffset + i] ^ mask[(phase + i) & 3];
    }
    const p = phase + head;
    for (let b = 0; b < 8; b++) scratch[b] = mask[(p + b) & 3];
    const m = scratchWord[0];
    const words = (length - head) >>> 3;
    const src = wordsOf(source.buffer);
    const dst = source.buffer === target.buffer ? src : targetWordsOf(target.buffer);
    const s = (sourceStart + head) >>> 3;
    const t = (targetStart + head) >>> 3;
    if (s === t && src === dst) xorInPlace(src, m, s, s + words);
    else xorCopy(src, s, dst, t, words, m);
    i = head + words * 8;
  }
  if (i === length) return;
  // The remaining bytes (all of a short payload): four at a time with the mask bytes in locals.
  const m0 = mask[(phase + i) & 3];
  const m1 = mask[(phase + i + 1) & 3];
  const m2 = mask[(phase + i + 2) & 3];
  const m3 = mask[(phase + i + 3) & 3];
  let s = sourceOffset + i;
  let t = targetOffset + i;
  const end = sourceOffset + length;
  for (; s + 3 < end; s += 4, t += 4) {
    target[t] = source[s] ^ m0;
    target[t + 1] = source[s + 1] ^ m1;
    target[t + 2] = source[s + 2] ^ m2;
    target[t + 3] = source[s + 3] ^ m3;
  }
  if (s < end) target[t] = source[s++] ^ m0;
  if (s < end) target[t + 1] = source[s++] ^ m1;
  if (s < end) target[t + 2] = source[s] ^ m2;
}

// Unrolled by eight: V8 keeps the loop in registers; in place, `^=` avoids the aliasing checks of
// a separate source and target.
function xorInPlace(words: BigUint64Array, m: bigint, start: number, end: number): void {
  let w = start;
  for (; w + 7 < end; w += 8) {
    words[w] ^= m;
    words[w + 1] ^= m;
    words[w + 2] ^= m;
    words[w + 3] ^= m;
    words[w + 4] ^= m;
    words[w + 5] ^= m;
    words[w + 6] ^= m;
    words[w + 7] ^= m;
  }
  for (; w < end; w++) words[w] ^= m;
}

function xorCopy(src: BigUint64Array, s: number, dst: BigUint64Array, t: number, count: number, m: bigint): void {
  let w = 0;
  for (; w + 7 < count; w += 8) {
    dst[t + w] = src[s + w] ^ m;
    dst[t + w + 1] = src[s + w + 1] ^ m;
    dst[t + w + 2] = src[s + w + 2] ^ m;
    dst[t + w + 3] = src[s + w + 3] ^ m;
    dst[t + w + 4] = src[s + w + 4] ^ m;
    dst[t + w + 5] = src[s + w + 5] ^ m;
    dst[t + w + 6] = src[s + w + 6] ^ m;
    dst[t + w + 7] = src[s + w + 7] ^ m;
  }
  for (; w < count; w++) dst[t + w] = src[s + w] ^ m;
}

/** Unmasks (or masks) `data` in place. */
export function maskInPlace(data: Uint8Array, mask: Uint8Array, phase = 0): void {
  applyMask(data, 0, data, 0, data.length, mask, phase);
}
