/**
 * XOR masking (RFC 6455 §5.3). Masking is its own inverse, so one function serves both directions.
 *
 * Long payloads are processed a 32-bit word at a time on the aligned middle of the buffer; the mask
 * is rotated by the number of unaligned leading bytes so word and byte loops agree.
 */
const WORD_THRESHOLD = 32;
const scratch = new Uint8Array(4);
const scratchWord = new Uint32Array(scratch.buffer);

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
  if (length >= WORD_THRESHOLD) {
    // Align the target; the source must share its alignment for one Uint32Array view each.
    const misalign = (target.byteOffset + targetOffset) & 3;
    if (misalign === ((source.byteOffset + sourceOffset) & 3)) {
      const head = misalign === 0 ? 0 : 4 - misalign;
      for (; i < head; i++) {
        target[targetOffset + i] = source[sourceOffset + i] ^ mask[(phase + i) & 3];
      }
      const p = phase + head;
      scratch[0] = mask[p & 3];
      scratch[1] = mask[(p + 1) & 3];
      scratch[2] = mask[(p + 2) & 3];
      scratch[3] = mask[(p + 3) & 3];
      const m = scratchWord[0];
      const words = (length - head) >>> 2;
      const src = new Uint32Array(source.buffer, source.byteOffset + sourceOffset + head, words);
      const dst =
        source === target && sourceOffset === targetOffset
          ? src
          : new Uint32Array(target.buffer, target.byteOffset + targetOffset + head, words);
      for (let w = 0; w < words; w++) dst[w] = src[w] ^ m;
      i = head + words * 4;
    }
  }
  for (; i < length; i++) {
    target[targetOffset + i] = source[sourceOffset + i] ^ mask[(phase + i) & 3];
  }
}

/** Unmasks (or masks) `data` in place. */
export function maskInPlace(data: Uint8Array, mask: Uint8Array, phase = 0): void {
  applyMask(data, 0, data, 0, data.length, mask, phase);
}
