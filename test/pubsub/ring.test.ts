/**
 * LocalBroker's history ring (src/node/ring.ts) against the obvious model — the last `size`
 * messages in an array — over random sizes and payload lengths, so that its byte arena (placing,
 * skipping the tail, growing) never hands back the wrong bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ring } from '../../src/node/ring.js';

describe('history ring', () => {
  it('reads back exactly the last `size` messages, bytes intact, from any position', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.boolean()), { maxLength: 300 }),
        fc.integer({ min: 0, max: 300 }),
        (size, pushes, sinceRaw) => {
          const ring = new Ring({ size });
          const model: { offset: number; data: Buffer; isBinary: boolean }[] = [];
          const scratch = Buffer.alloc(3000);
          pushes.forEach(([length, isBinary], i) => {
            // The caller reuses its buffer: the ring must have copied.
            scratch.fill(i & 0xff, 0, length);
            const position = ring.push(scratch.subarray(0, length), isBinary);
            expect(position).toEqual({ offset: i + 1, epoch: ring.epoch });
            model.push({ offset: i + 1, data: Buffer.alloc(length, i & 0xff), isBinary });
            scratch.fill(0xee);
          });
          const since = Math.min(sinceRaw, pushes.length);
          const read = ring.read({ offset: since, epoch: ring.epoch });
          const expected = model.slice(-size).filter((m) => m.offset > since);
          expect(read.last).toBe(pushes.length);
          expect(read.entries.map((e) => [e.offset, e.isBinary, e.data.toString('hex')])).toEqual(expected.map((e) => [e.offset, e.isBinary, e.data.toString('hex')]));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a position of another epoch reads everything kept; no position reads none', () => {
    const ring = new Ring({ size: 3 });
    for (const text of ['a', 'b', 'c', 'd']) ring.push(Buffer.from(text), false);
    expect(ring.read({ offset: 3, epoch: 'other' }).entries.map((e) => e.data.toString())).toEqual(['b', 'c', 'd']);
    expect(ring.read(null)).toEqual({ epoch: ring.epoch, last: 4, entries: [] });
  });
});
