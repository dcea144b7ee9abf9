import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeClosePayload, encodeFrame, headerLength, MERGE_LIMIT, writeHeader } from '../../src/protocol/serializer.js';
import { frame, naiveMask, OP, parseWhole, pattern } from './helpers.js';

function flat(out: Buffer | [Buffer, Uint8Array]): Buffer {
  return Array.isArray(out) ? Buffer.concat([out[0], out[1]]) : Buffer.from(out);
}

/** Splits a masked frame into its header (without key), mask key and unmasked payload. */
function unmaskFrame(data: Buffer): { head: Buffer; key: Buffer; payload: Buffer } {
  expect(data[1] & 0x80).toBe(0x80);
  const len7 = data[1] & 0x7f;
  const keyAt = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
  const key = data.subarray(keyAt, keyAt + 4);
  return { head: data.subarray(0, keyAt), key: Buffer.from(key), payload: naiveMask(data.subarray(keyAt + 4), key) };
}

const hello = Buffer.from('Hello');

describe('RFC 6455 §5.7 examples, serialized', () => {
  it('single-frame unmasked text "Hello"', () => {
    expect([...flat(encodeFrame(OP.text, hello, true, false, false))]).toEqual([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
  });

  it('single-frame masked text "Hello": header 0x81 0x85, unmasks to the payload', () => {
    const out = flat(encodeFrame(OP.text, hello, true, false, true));
    expect(out).toHaveLength(11);
    const { head, payload } = unmaskFrame(out);
    expect([...head]).toEqual([0x81, 0x85]);
    expect(payload.toString()).toBe('Hello');
  });

  it('fragmented unmasked text "Hel" + "lo"', () => {
    expect([...flat(encodeFrame(OP.text, Buffer.from('Hel'), false, false, false))]).toEqual([0x01, 0x03, 0x48, 0x65, 0x6c]);
    expect([...flat(encodeFrame(OP.cont, Buffer.from('lo'), true, false, false))]).toEqual([0x80, 0x02, 0x6c, 0x6f]);
  });

  it('unmasked ping "Hello"', () => {
    expect([...flat(encodeFrame(OP.ping, hello, true, false, false))]).toEqual([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
  });

  it('masked pong "Hello": header 0x8a 0x85, unmasks to the payload', () => {
    const { head, payload } = unmaskFrame(flat(encodeFrame(OP.pong, hello, true, false, true)));
    expect([...head]).toEqual([0x8a, 0x85]);
    expect(payload.toString()).toBe('Hello');
  });

  it('256-byte unmasked binary: 0x82 0x7E 0x01 0x00', () => {
    const payload = pattern(256);
    const out = flat(encodeFrame(OP.binary, payload, true, false, false));
    expect([...out.subarray(0, 4)]).toEqual([0x82, 0x7e, 0x01, 0x00]);
    expect(out.subarray(4)).toEqual(payload);
  });

  it('64 KiB unmasked binary: 0x82 0x7F 0 0 0 0 0 1 0 0, payload not copied', () => {
    const payload = pattern(65536);
    const out = encodeFrame(OP.binary, payload, true, false, false);
    expect(Array.isArray(out)).toBe(true);
    const [head, body] = out as [Buffer, Uint8Array];
    expect([...head]).toEqual([0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]);
    // A large unmasked payload is passed through, not copied.
    expect(body).toBe(payload);
  });
});

describe('encodeFrame', () => {
  it('uses 7-bit, 16-bit and 64-bit lengths at the boundaries', () => {
    for (const [length, header] of [
      [0, [0x82, 0x00]],
      [125, [0x82, 0x7d]],
      [126, [0x82, 0x7e, 0x00, 0x7e]],
      [65535, [0x82, 0x7e, 0xff, 0xff]],
      [65536, [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]],
    ] as const) {
      const payload = pattern(length, 1);
      const out = flat(encodeFrame(OP.binary, payload, true, false, false));
      expect([...out.subarray(0, header.length)], `length ${length}`).toEqual(header);
      expect(out.subarray(header.length).equals(payload), `length ${length}`).toBe(true);
      expect(out.equals(frame({ opcode: OP.binary, payload })), `length ${length}`).toBe(true);
    }
  });

  it('sets RSV1 and clears FIN as asked', () => {
    expect(flat(encodeFrame(OP.text, hello, true, true, false))[0]).toBe(0xc1);
    expect(flat(encodeFrame(OP.binary, hello, false, true, false))[0]).toBe(0x42);
    expect(flat(encodeFrame(OP.cont, hello, false, false, false))[0]).toBe(0x00);
  });

  it('merges small unmasked payloads with their header, splits large ones', () => {
    expect(Array.isArray(encodeFrame(OP.binary, pattern(MERGE_LIMIT), true, false, false))).toBe(false);
    expect(Array.isArray(encodeFrame(OP.binary, pattern(MERGE_LIMIT + 1), true, false, false))).toBe(true);
  });

  it('masked frames never leave the payload in the clear and use fresh keys', () => {
    const payload = pattern(300, 4);
    const a = flat(encodeFrame(OP.binary, payload, true, false, true));
    const b = flat(encodeFrame(OP.binary, payload, true, false, true));
    expect(unmaskFrame(a).payload).toEqual(payload);
    expect(unmaskFrame(b).payload).toEqual(payload);
    expect(unmaskFrame(a).key.equals(unmaskFrame(b).key)).toBe(false);
    // The caller's payload is untouched.
    expect(payload).toEqual(pattern(300, 4));
  });

  it('does not let consecutive frames overwrite each other (pooled allocation)', () => {
    const outs = Array.from({ length: 200 }, (_, i) => encodeFrame(OP.binary, pattern(i * 3, i), true, false, i % 2 === 0));
    outs.forEach((out, i) => {
      const data = flat(out);
      const payload = i % 2 === 0 ? unmaskFrame(data).payload : data.subarray(2 + (i * 3 >= 126 ? 2 : 0));
      expect(payload, `frame ${i}`).toEqual(pattern(i * 3, i));
    });
  });

  it('property: masked and unmasked frames parse back to what was sent', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 70000 }),
        fc.boolean(),
        fc.boolean(),
        (payload, fin, masked) => {
          const out = flat(encodeFrame(OP.binary, payload, fin, false, masked));
          expect(out.length).toBe(headerLength(payload.length, masked) + payload.length);
          if (!masked) expect(out.equals(frame({ opcode: OP.binary, payload, fin }))).toBe(true);
          // Round trip through the parser: one whole frame (or the first fragment) of the payload.
          const wrapped = fin ? out : Buffer.concat([out, frame({ opcode: OP.cont, mask: masked })]);
          const calls = parseWhole(wrapped, { expectMasked: masked, maxPayload: 1 << 20 });
          expect(calls).toEqual([{ type: 'message', data: Buffer.from(payload), isBinary: true, compressed: false }]);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('writeHeader / headerLength', () => {
  it('writes at an offset and returns where the payload starts', () => {
    const target = Buffer.alloc(20, 0xaa);
    const start = writeHeader(target, 3, OP.text, true, false, 300, Uint8Array.of(1, 2, 3, 4));
    expect(start).toBe(3 + 4 + 4);
    expect([...target.subarray(0, start + 1)]).toEqual([0xaa, 0xaa, 0xaa, 0x81, 0xfe, 0x01, 0x2c, 1, 2, 3, 4, 0xaa]);
  });

  it('writes 64-bit lengths above 2^32', () => {
    const target = Buffer.alloc(10);
    writeHeader(target, 0, OP.binary, true, false, 2 ** 32 + 5, null);
    expect([...target]).toEqual([0x82, 0x7f, 0, 0, 0, 1, 0, 0, 0, 5]);
  });

  it('headerLength counts extended lengths and the mask key', () => {
    expect([0, 125, 126, 65535, 65536].map((n) => headerLength(n, false))).toEqual([2, 2, 4, 4, 10]);
    expect([0, 125, 126, 65535, 65536].map((n) => headerLength(n, true))).toEqual([6, 6, 8, 8, 14]);
  });
});

describe('encodeClosePayload', () => {
  it('is empty without a code, code + UTF-8 reason otherwise', () => {
    expect(encodeClosePayload(undefined)).toHaveLength(0);
    expect([...encodeClosePayload(1000)]).toEqual([0x03, 0xe8]);
    expect([...encodeClosePayload(4001, 'é')]).toEqual([0x0f, 0xa1, 0xc3, 0xa9]);
    expect([...encodeClosePayload(1001, Uint8Array.of(0x61))]).toEqual([0x03, 0xe9, 0x61]);
  });
});
