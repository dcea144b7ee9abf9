import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { simdMask, simdUnmasker } from '../../src/protocol/mask-simd.js';
import { applyMask, SIMD_THRESHOLD } from '../../src/protocol/mask.js';
import { naiveMask, pattern } from './helpers.js';

const simd = simdUnmasker();

describe('WebAssembly SIMD unmasking', () => {
  it('is available on the Node versions the project runs on', () => {
    expect(simd).not.toBeNull();
  });

  it('equals the byte loop at random lengths, offsets, phases and masks, in place and out of place (fast-check)', () => {
    fc.assert(
      fc.property(
        // Short ones, and long ones (many of the pieces the module takes at a time, and a tail).
        fc.oneof(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 1024 * 1024 - 200, max: 1024 * 1024 + 200 })),
        fc.integer({ min: 0, max: 67 }),
        fc.integer({ min: 0, max: 67 }),
        fc.integer({ min: 0, max: 3 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.boolean(),
        (length, sourceOffset, targetOffset, phase, mask, inPlace) => {
          const source = pattern(sourceOffset + length + 5, length);
          const expected = naiveMask(source.subarray(sourceOffset, sourceOffset + length), mask, phase);
          const target = inPlace ? source : Buffer.alloc(targetOffset + length + 5, 0xee);
          const at = inPlace ? sourceOffset : targetOffset;
          simdMask(simd!, source, sourceOffset, target, at, length, mask, phase);
          expect(target.subarray(at, at + length).equals(expected)).toBe(true);
          if (!inPlace) {
            // Nothing around the target's range is touched.
            expect(target.subarray(0, at).every((b) => b === 0xee)).toBe(true);
            expect(target.subarray(at + length).every((b) => b === 0xee)).toBe(true);
          }
        },
      ),
      { numRuns: 120 },
    );
  }, 60_000);

  it('applyMask takes it from the threshold up and agrees with the byte loop on both sides of it', () => {
    for (const length of [SIMD_THRESHOLD - 1, SIMD_THRESHOLD, SIMD_THRESHOLD + 63, 1024 * 1024 + 13]) {
      for (let phase = 0; phase < 4; phase++) {
        const data = pattern(length + 3, phase);
        const expected = naiveMask(data.subarray(3), Uint8Array.of(1, 2, 3, 4), phase);
        applyMask(data, 3, data, 3, length, Uint8Array.of(1, 2, 3, 4), phase);
        expect(data.subarray(3).equals(expected), `length ${length} phase ${phase}`).toBe(true);
      }
    }
  });
});
