import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyMask, maskInPlace } from '../../src/protocol/mask.js';
import { naiveMask, pattern } from './helpers.js';

const MASK = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

describe('applyMask', () => {
  it('masks the RFC 6455 §5.7 "Hello" example', () => {
    const out = Buffer.alloc(5);
    applyMask(Buffer.from('Hello'), 0, out, 0, 5, MASK);
    expect([...out]).toEqual([0x7f, 0x9f, 0x4d, 0x51, 0x58]);
  });

  it('matches a naive byte loop for every length 0..200, every phase, out of place', () => {
    for (let length = 0; length <= 200; length++) {
      const source = pattern(length, length);
      for (let phase = 0; phase < 4; phase++) {
        const target = Buffer.alloc(length);
        applyMask(source, 0, target, 0, length, MASK, phase);
        expect(target, `length ${length} phase ${phase}`).toEqual(naiveMask(source, MASK, phase));
      }
    }
  });

  it('matches a naive byte loop for every length 0..200, every phase, in place', () => {
    for (let length = 0; length <= 200; length++) {
      for (let phase = 0; phase < 4; phase++) {
        const data = pattern(length, phase);
        const expected = naiveMask(data, MASK, phase);
        maskInPlace(data, MASK, phase);
        expect(data, `length ${length} phase ${phase}`).toEqual(expected);
      }
    }
  });

  it('handles source and target at every byte offset 0..7 of shared ArrayBuffers', () => {
    // Source and target live in one ArrayBuffer (non-overlapping), at all 64 alignment pairs,
    // so both the word loop (same alignment) and the byte fallback (different alignment) run.
    for (const length of [0, 1, 3, 4, 63, 64, 65, 67, 100, 131, 200]) {
      for (let so = 0; so < 8; so++) {
        for (let to = 0; to < 8; to++) {
          for (let phase = 0; phase < 4; phase++) {
            const ab = new ArrayBuffer(2 * length + 16);
            const all = new Uint8Array(ab);
            all.fill(0xee);
            const source = new Uint8Array(ab, so, length);
            source.set(pattern(length, so + to));
            const target = new Uint8Array(ab, length + 8 + to, length);
            const expected = naiveMask(source, MASK, phase);
            applyMask(source, 0, target, 0, length, MASK, phase);
            const label = `length ${length} source@${so} target@${to} phase ${phase}`;
            expect(Buffer.from(target), label).toEqual(expected);
            // Bytes around the target are untouched.
            expect(all[length + 7 + to], label).toBe(0xee);
            expect(all[2 * length + 8 + to], label).toBe(0xee);
            // The source is not modified when masking out of place.
            expect(Buffer.from(source), label).toEqual(pattern(length, so + to));
          }
        }
      }
    }
  });

  it('handles sourceOffset / targetOffset arguments within views', () => {
    const ab = new ArrayBuffer(512);
    const whole = new Uint8Array(ab);
    whole.set(pattern(512, 3));
    for (let viewOffset = 0; viewOffset < 8; viewOffset++) {
      for (let sourceOffset = 0; sourceOffset < 4; sourceOffset++) {
        for (const length of [5, 64, 65, 150]) {
          const view = new Uint8Array(ab, viewOffset, 200);
          const target = Buffer.alloc(length + 7);
          const before = Buffer.from(view.subarray(sourceOffset, sourceOffset + length));
          applyMask(view, sourceOffset, target, 3, length, MASK, 1);
          expect(target.subarray(3, 3 + length)).toEqual(naiveMask(before, MASK, 1));
          expect([...target.subarray(0, 3)]).toEqual([0, 0, 0]);
          expect([...target.subarray(3 + length)]).toEqual([0, 0, 0, 0]);
        }
      }
    }
  });

  it('in place at every byte offset of a shared buffer leaves neighbours alone', () => {
    for (const length of [1, 2, 7, 64, 65, 66, 67, 129]) {
      for (let offset = 0; offset < 8; offset++) {
        for (let phase = 0; phase < 4; phase++) {
          const ab = new ArrayBuffer(length + 8);
          const all = new Uint8Array(ab);
          all.fill(0x55);
          const data = new Uint8Array(ab, offset, length);
          data.set(pattern(length, 9));
          const expected = naiveMask(data, MASK, phase);
          maskInPlace(data, MASK, phase);
          expect(Buffer.from(data)).toEqual(expected);
          for (let i = 0; i < offset; i++) expect(all[i]).toBe(0x55);
          for (let i = offset + length; i < all.length; i++) expect(all[i]).toBe(0x55);
        }
      }
    }
  });

  it('masks 1 MiB (and 1 MiB + 3) like the naive loop, in place and out of place', () => {
    for (const length of [1 << 20, (1 << 20) + 3]) {
      const source = pattern(length, 5);
      const expected = naiveMask(source, MASK, 2);
      const target = Buffer.alloc(length);
      applyMask(source, 0, target, 0, length, MASK, 2);
      expect(target.equals(expected)).toBe(true);
      maskInPlace(source, MASK, 2);
      expect(source.equals(expected)).toBe(true);
    }
  });

  it('is its own inverse, and masking a piece at a time with phase = offset & 3 equals one pass', () => {
    const data = pattern(1000, 1);
    const once = Buffer.from(data);
    maskInPlace(once, MASK);
    const pieces = Buffer.from(data);
    for (const [start, end] of [
      [0, 1],
      [1, 70],
      [70, 71],
      [71, 500],
      [500, 1000],
    ]) {
      maskInPlace(pieces.subarray(start, end), MASK, start & 3);
    }
    expect(pieces).toEqual(once);
    maskInPlace(once, MASK);
    expect(once).toEqual(data);
  });

  it('property: applyMask equals the naive loop for any data, mask, offsets and phase', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 7 }),
        fc.boolean(),
        (data, mask, phase, sourceShift, targetShift, inPlace) => {
          const expected = naiveMask(data, mask, phase);
          const ab = new ArrayBuffer(2 * data.length + 32);
          const source = new Uint8Array(ab, sourceShift, data.length);
          source.set(data);
          if (inPlace) {
            applyMask(source, 0, source, 0, data.length, mask, phase);
            expect(Buffer.from(source)).toEqual(expected);
          } else {
            const target = new Uint8Array(ab, data.length + 16 + targetShift, data.length);
            applyMask(source, 0, target, 0, data.length, mask, phase);
            expect(Buffer.from(target)).toEqual(expected);
            expect(Buffer.from(source)).toEqual(Buffer.from(data));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('works when alternating between many different buffers (the word-view cache)', () => {
    // The implementation caches a word view per ArrayBuffer; switching buffers must not reuse a
    // stale view (which would mask the wrong memory).
    const buffers = [0, 1, 2, 3, 4].map((i) => pattern(100 + i * 13, i));
    for (let round = 0; round < 3; round++) {
      for (const [i, b] of buffers.entries()) {
        const other = buffers[(i + 1) % buffers.length];
        const target = Buffer.alloc(b.length);
        applyMask(b, 0, target, 0, b.length, MASK, round & 3);
        expect(target).toEqual(naiveMask(b, MASK, round & 3));
        const copy = Buffer.from(other);
        maskInPlace(copy, MASK, 1);
        expect(copy).toEqual(naiveMask(other, MASK, 1));
      }
    }
  });
});
