import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ParserOptions } from '../../src/protocol/parser.js';
import {
  OP,
  bytes,
  closePayload,
  frame,
  frames,
  makeParser,
  mergeFragments,
  parseBytewise,
  parseChunks,
  parseWhole,
  pattern,
  raw,
  type FrameSpec,
  type SinkCall,
} from './helpers.js';

type Opts = Partial<ParserOptions> & { expectMasked: boolean };
const SERVER: Opts = { expectMasked: true };
const CLIENT: Opts = { expectMasked: false };

const msg = (data: Uint8Array | string, isBinary = false): SinkCall => ({
  type: 'message',
  data: bytes(data),
  isBinary,
  compressed: false,
});
const ping = (data: Uint8Array | string = ''): SinkCall => ({ type: 'ping', data: bytes(data) });
const pong = (data: Uint8Array | string = ''): SinkCall => ({ type: 'pong', data: bytes(data) });
const close = (code: number, reason: Uint8Array | string = ''): SinkCall => ({ type: 'close', code, reason: bytes(reason) });
const error = (code: number): SinkCall => ({ type: 'error', code });

/** Every chunking must give the same sink calls: whole, every 2-way split, byte by byte. */
function expectSameAtEverySplit(data: Buffer, options: Opts, expected: SinkCall[], label = ''): void {
  expect(parseWhole(data, options), `${label} whole`).toEqual(expected);
  for (let cut = 0; cut <= data.length; cut++) {
    expect(parseChunks(data, [cut], options), `${label} cut at ${cut}`).toEqual(expected);
  }
  expect(parseBytewise(data, options), `${label} byte by byte`).toEqual(expected);
}

describe('RFC 6455 §5.7 examples, parsed', () => {
  it('single-frame unmasked text "Hello" (client side)', () => {
    expectSameAtEverySplit(Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]), CLIENT, [msg('Hello')]);
  });

  it('single-frame masked text "Hello" (server side)', () => {
    const data = Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    expectSameAtEverySplit(data, SERVER, [msg('Hello')]);
    // Our own builder produces the same bytes, which the other tests rely on.
    expect(frame({ opcode: OP.text, payload: 'Hello', mask: [0x37, 0xfa, 0x21, 0x3d] })).toEqual(data);
  });

  it('fragmented unmasked text "Hel" + "lo"', () => {
    const data = Buffer.from([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
    expectSameAtEverySplit(data, CLIENT, [msg('Hello')]);
  });

  it('unmasked ping "Hello"', () => {
    expectSameAtEverySplit(Buffer.from([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]), CLIENT, [ping('Hello')]);
  });

  it('masked pong "Hello"', () => {
    const data = Buffer.from([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    expectSameAtEverySplit(data, SERVER, [pong('Hello')]);
  });

  it('256-byte binary with a 16-bit length: 0x82 0x7E 0x01 0x00', () => {
    const payload = pattern(256);
    const data = Buffer.concat([Buffer.from([0x82, 0x7e, 0x01, 0x00]), payload]);
    expectSameAtEverySplit(data, CLIENT, [msg(payload, true)]);
  });

  it('64 KiB binary with a 64-bit length: 0x82 0x7F 0 0 0 0 0 1 0 0', () => {
    const payload = pattern(65536);
    const data = Buffer.concat([Buffer.from([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]), payload]);
    expect(parseWhole(data, CLIENT)).toEqual([msg(payload, true)]);
    // All the 2-way splits around the header, and a sample through the payload.
    for (const cut of [0, 1, 2, 5, 9, 10, 11, 12, 13, 14, 100, 32768, 65545, 65546]) {
      expect(parseChunks(data, [cut], CLIENT), `cut at ${cut}`).toEqual([msg(payload, true)]);
    }
  });
});

// Valid streams, each as frame specs without masks; run masked (server) and unmasked (client).
const STREAMS: { name: string; specs: FrameSpec[]; expected: SinkCall[] }[] = [
  {
    name: 'fragmented text with an interleaved ping and pong',
    specs: [
      { opcode: OP.text, payload: 'Hel', fin: false },
      { opcode: OP.ping, payload: 'p1' },
      { opcode: OP.cont, payload: 'l', fin: false },
      { opcode: OP.pong, payload: '' },
      { opcode: OP.cont, payload: 'o', fin: true },
    ],
    expected: [ping('p1'), pong(''), msg('Hello')],
  },
  {
    name: 'text with a multi-byte character split across fragments',
    specs: [
      { opcode: OP.text, payload: raw('a\xe2'), fin: false },
      { opcode: OP.cont, payload: raw('\x82'), fin: false },
      { opcode: OP.cont, payload: raw('\xac\xf0\x9f'), fin: false },
      { opcode: OP.cont, payload: raw('\x98\x80'), fin: true },
    ],
    expected: [msg(raw('a\xe2\x82\xac\xf0\x9f\x98\x80'))],
  },
  {
    name: '0-length frames of every kind',
    specs: [
      { opcode: OP.text, payload: '' },
      { opcode: OP.binary, payload: '' },
      { opcode: OP.ping },
      { opcode: OP.pong },
      { opcode: OP.text, payload: '', fin: false },
      { opcode: OP.cont, payload: '', fin: false },
      { opcode: OP.cont, payload: '', fin: true },
      { opcode: OP.binary, payload: 'x', fin: false },
      { opcode: OP.cont, payload: '' },
      { opcode: OP.close },
    ],
    expected: [msg(''), msg('', true), ping(), pong(), msg(''), msg('x', true), close(1005)],
  },
  {
    name: '125/126/65535/65536-byte payloads',
    specs: [
      { opcode: OP.binary, payload: pattern(125, 1) },
      { opcode: OP.binary, payload: pattern(126, 2) },
      { opcode: OP.ping, payload: pattern(125, 3) },
      { opcode: OP.binary, payload: pattern(65535, 4) },
      { opcode: OP.binary, payload: pattern(65536, 5) },
    ],
    expected: [msg(pattern(125, 1), true), msg(pattern(126, 2), true), ping(pattern(125, 3)), msg(pattern(65535, 4), true), msg(pattern(65536, 5), true)],
  },
  {
    name: 'fragmented binary of large fragments, then a close with a reason',
    specs: [
      { opcode: OP.binary, payload: pattern(300, 1), fin: false },
      { opcode: OP.cont, payload: pattern(70000, 2), fin: false },
      { opcode: OP.ping, payload: 'mid' },
      { opcode: OP.cont, payload: pattern(5, 3), fin: true },
      { opcode: OP.close, payload: closePayload(1000, 'bye ✓') },
    ],
    expected: [ping('mid'), msg(Buffer.concat([pattern(300, 1), pattern(70000, 2), pattern(5, 3)]), true), close(1000, 'bye ✓')],
  },
  {
    name: 'many small text messages back to back',
    specs: Array.from({ length: 20 }, (_, i) => ({ opcode: OP.text, payload: `message ${i} é` })),
    expected: Array.from({ length: 20 }, (_, i) => msg(`message ${i} é`)),
  },
];

function withMask(specs: FrameSpec[], masked: boolean): Buffer {
  return frames(...specs.map((s, i) => ({ ...s, mask: masked ? [0x11 * (i + 1), 0xa5, i, 0xff - i] : false })));
}

describe('valid streams at every chunking', () => {
  for (const { name, specs, expected } of STREAMS) {
    for (const masked of [true, false]) {
      const side = masked ? 'masked, server parser' : 'unmasked, client parser';
      it(`${name} (${side})`, () => {
        const data = withMask(specs, masked);
        const options = { expectMasked: masked, maxPayload: 1 << 20 };
        if (data.length > 5000) {
          // Large streams: every split in the first and last 300 bytes and around every frame boundary, plus a stride.
          expect(parseWhole(data, options)).toEqual(expected);
          const cuts = new Set<number>();
          for (let i = 0; i <= 300; i++) cuts.add(i).add(data.length - i);
          for (let i = 0; i < data.length; i += 997) cuts.add(i);
          let offset = 0;
          for (const s of specs) {
            for (let d = -12; d <= 12; d++) cuts.add(Math.min(Math.max(offset + d, 0), data.length));
            offset += frame({ ...s, mask: masked }).length;
          }
          for (const cut of cuts) expect(parseChunks(data, [cut], options), `cut at ${cut}`).toEqual(expected);
          // Byte by byte costs one push per byte; still cheap at this size.
          expect(parseBytewise(data, options)).toEqual(expected);
        } else {
          expectSameAtEverySplit(data, options, expected);
        }
        // Streaming mode: the same messages once pieces are put back together.
        expect(mergeFragments(parseWhole(data, { ...options, streaming: true }))).toEqual(expected);
        expect(mergeFragments(parseChunks(data, [Math.floor(data.length / 2)], { ...options, streaming: true }))).toEqual(expected);
        expect(mergeFragments(parseBytewise(data.subarray(0, Math.min(data.length, 3000)), { ...options, streaming: true }))).toEqual(
          mergeFragments(parseWhole(data.subarray(0, Math.min(data.length, 3000)), { ...options, streaming: true })),
        );
      });
    }
  }
});

// Random valid streams: messages of random fragments with control frames between and inside them.
interface Generated {
  specs: FrameSpec[];
  expected: SinkCall[];
}

const payloadArb = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 120, max: 300 }).map((n) => pattern(n, n)) },
  { weight: 1, arbitrary: fc.constantFrom(65535, 65536, 70000).map((n) => pattern(n, n)) },
);
const controlArb = fc.record({
  opcode: fc.constantFrom(OP.ping, OP.pong),
  payload: fc.uint8Array({ maxLength: 125 }),
});
const messageArb = fc.record({
  binary: fc.boolean(),
  text: fc.string({ unit: 'binary', maxLength: 60 }),
  binaryPieces: fc.array(payloadArb, { minLength: 1, maxLength: 4 }),
  textCuts: fc.array(fc.nat(), { maxLength: 3 }),
  controls: fc.array(fc.option(controlArb, { nil: undefined }), { maxLength: 4 }),
});
const streamArb = fc
  .record({
    messages: fc.array(fc.oneof(messageArb, controlArb), { minLength: 1, maxLength: 6 }),
    closeCode: fc.option(fc.constantFrom(1000, 1001, 3000, 4999), { nil: undefined }),
  })
  .map(({ messages, closeCode }): Generated => {
    const specs: FrameSpec[] = [];
    const expected: SinkCall[] = [];
    for (const m of messages) {
      if (!('binary' in m)) {
        specs.push({ opcode: m.opcode, payload: m.payload });
        expected.push({ type: m.opcode === OP.ping ? 'ping' : 'pong', data: Buffer.from(m.payload) });
        continue;
      }
      let pieces: Buffer[];
      let whole: Buffer;
      if (m.binary) {
        pieces = m.binaryPieces.map((p) => Buffer.from(p));
        whole = Buffer.concat(pieces);
      } else {
        // Text is cut at arbitrary byte positions, even inside a character: only the message must be valid.
        whole = Buffer.from(m.text, 'utf8');
        const cuts = [...new Set(m.textCuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
        pieces = [];
        let start = 0;
        for (const c of [...cuts, whole.length]) {
          pieces.push(whole.subarray(start, c));
          start = c;
        }
      }
      pieces.forEach((piece, i) => {
        const last = i === pieces.length - 1;
        specs.push({ opcode: i === 0 ? (m.binary ? OP.binary : OP.text) : OP.cont, payload: piece, fin: last });
        const control = m.controls[i];
        if (!last && control) {
          specs.push({ opcode: control.opcode, payload: control.payload });
          expected.push({ type: control.opcode === OP.ping ? 'ping' : 'pong', data: Buffer.from(control.payload) });
        }
      });
      expected.push(msg(whole, m.binary));
    }
    if (closeCode !== undefined) {
      specs.push({ opcode: OP.close, payload: closePayload(closeCode, 'done') });
      expected.push(close(closeCode, 'done'));
    }
    return { specs, expected };
  });

describe('properties', () => {
  it('random valid frame sequences split at random points give the expected messages', () => {
    fc.assert(
      fc.property(
        streamArb,
        fc.boolean(),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
        fc.boolean(),
        ({ specs, expected }, masked, fractions, streaming) => {
          const data = withMask(specs, masked);
          const options = { expectMasked: masked, maxPayload: 1 << 20, streaming };
          const cuts = [...new Set(fractions.map((f) => Math.floor(f * data.length)))].sort((a, b) => a - b);
          const whole = parseWhole(data, options);
          const split = parseChunks(data, cuts, options);
          if (streaming) {
            expect(mergeFragments(whole)).toEqual(expected);
            expect(mergeFragments(split)).toEqual(expected);
          } else {
            expect(whole).toEqual(expected);
            expect(split).toEqual(whole);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('small random valid sequences give the same calls byte by byte', () => {
    fc.assert(
      fc.property(streamArb, fc.boolean(), ({ specs, expected }, masked) => {
        const data = withMask(specs, masked);
        fc.pre(data.length < 3000);
        expect(parseBytewise(data, { expectMasked: masked })).toEqual(expected);
      }),
      { numRuns: 100 },
    );
  });

  it('random byte streams never throw out of push(), and nothing follows an error', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (chunks, expectMasked, streaming, allowRsv1) => {
          const { sink, parser } = makeParser({ expectMasked, streaming, allowRsv1, maxPayload: 1 << 16 });
          for (const chunk of chunks) expect(() => parser.push(Buffer.from(chunk))).not.toThrow();
          const errors = sink.calls.filter((c) => c.type === 'error');
          expect(errors.length).toBeLessThanOrEqual(1);
          if (errors.length === 1) {
            expect(sink.calls.at(-1)!.type).toBe('error');
            expect([1002, 1007, 1009]).toContain((errors[0] as { code: number }).code);
            expect(parser.failed).toBe(true);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('random mutations of valid streams never throw and fail with one code at most', () => {
    fc.assert(
      fc.property(
        streamArb,
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (generated, masked, flips) => {
          const data = withMask(generated.specs, masked);
          for (const [at, value] of flips) data[at % data.length] = value;
          const { sink, parser } = makeParser({ expectMasked: masked, maxPayload: 1 << 20 });
          expect(() => parser.push(Buffer.from(data))).not.toThrow();
          expect(sink.calls.filter((c) => c.type === 'error').length).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 500 },
    );
  });
});

// Bad input: each row is frames (unmasked specs, masked for the server run) and the calls expected,
// ending in the error. Every row runs on both sides and at every chunking.
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];

const BAD: { name: string; specs: FrameSpec[]; expected: SinkCall[]; options?: Partial<ParserOptions> }[] = [
  { name: 'RSV2 set', specs: [{ opcode: OP.text, payload: 'a', rsv2: true }], expected: [error(1002)] },
  { name: 'RSV3 set', specs: [{ opcode: OP.binary, payload: 'a', rsv3: true }], expected: [error(1002)] },
  { name: 'RSV2 on a ping', specs: [{ opcode: OP.ping, rsv2: true }], expected: [error(1002)] },
  { name: 'RSV1 without allowRsv1', specs: [{ opcode: OP.text, payload: 'a', rsv1: true }], expected: [error(1002)] },
  {
    name: 'RSV1 on a ping even with allowRsv1',
    specs: [{ opcode: OP.ping, rsv1: true }],
    expected: [error(1002)],
    options: { allowRsv1: true },
  },
  {
    name: 'RSV1 on a continuation even with allowRsv1',
    specs: [
      { opcode: OP.binary, payload: 'a', fin: false, rsv1: true },
      { opcode: OP.cont, payload: 'b', rsv1: true },
    ],
    expected: [error(1002)],
    options: { allowRsv1: true },
  },
  ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode) => ({
    name: `reserved opcode 0x${opcode.toString(16)}`,
    specs: [{ opcode: OP.ping, payload: 'ok' }, { opcode, payload: 'a' }],
    expected: [ping('ok'), error(1002)],
  })),
  { name: 'ping of 126 bytes', specs: [{ opcode: OP.ping, payload: pattern(126) }], expected: [error(1002)] },
  { name: 'pong of 200 bytes', specs: [{ opcode: OP.pong, payload: pattern(200) }], expected: [error(1002)] },
  { name: 'close of 126 bytes', specs: [{ opcode: OP.close, payload: closePayload(1000, 'x'.repeat(124)) }], expected: [error(1002)] },
  { name: 'fragmented ping (FIN=0)', specs: [{ opcode: OP.ping, payload: 'a', fin: false }], expected: [error(1002)] },
  { name: 'fragmented close (FIN=0)', specs: [{ opcode: OP.close, fin: false }], expected: [error(1002)] },
  { name: 'continuation without a message', specs: [{ opcode: OP.cont, payload: 'a' }], expected: [error(1002)] },
  {
    name: 'continuation after a finished message',
    specs: [{ opcode: OP.text, payload: 'a' }, { opcode: OP.cont, payload: 'b' }],
    expected: [msg('a'), error(1002)],
  },
  {
    name: 'text inside a fragmented message',
    specs: [{ opcode: OP.text, payload: 'a', fin: false }, { opcode: OP.text, payload: 'b' }],
    expected: [error(1002)],
  },
  {
    name: 'binary inside a fragmented text message',
    specs: [{ opcode: OP.text, payload: 'a', fin: false }, { opcode: OP.ping }, { opcode: OP.binary, payload: 'b' }],
    expected: [ping(), error(1002)],
  },
  { name: 'close with a 1-byte payload', specs: [{ opcode: OP.close, payload: Buffer.of(0x03) }], expected: [error(1002)] },
  ...INVALID_CODES.map((code) => ({
    name: `close code ${code}`,
    specs: [{ opcode: OP.close, payload: closePayload(code, 'r') }],
    expected: [error(1002)],
  })),
  { name: 'invalid UTF-8 in a single text frame', specs: [{ opcode: OP.text, payload: raw('ab\xffcd') }], expected: [error(1007)] },
  { name: 'surrogate in a single text frame', specs: [{ opcode: OP.text, payload: raw('\xed\xa0\x80') }], expected: [error(1007)] },
  { name: 'text frame ending mid-character', specs: [{ opcode: OP.text, payload: raw('ab\xe2\x82') }], expected: [error(1007)] },
  {
    name: 'fragmented text ending mid-character',
    specs: [
      { opcode: OP.text, payload: raw('ab\xe2'), fin: false },
      { opcode: OP.cont, payload: raw('\x82'), fin: true },
    ],
    expected: [error(1007)],
  },
  {
    name: 'invalid UTF-8 in the second fragment',
    specs: [
      { opcode: OP.text, payload: 'ok', fin: false },
      { opcode: OP.ping, payload: '1' },
      { opcode: OP.cont, payload: raw('\xce\xba\xf4\x90\x80\x80'), fin: false },
      { opcode: OP.ping, payload: '2' },
      { opcode: OP.cont, payload: 'more', fin: true },
    ],
    expected: [ping('1'), error(1007)],
  },
  {
    name: 'invalid UTF-8 in a close reason',
    specs: [{ opcode: OP.close, payload: closePayload(1000, raw('\xff')) }],
    expected: [error(1007)],
  },
  {
    name: 'truncated UTF-8 in a close reason',
    specs: [{ opcode: OP.close, payload: closePayload(1000, raw('ok\xe2\x82')) }],
    expected: [error(1007)],
  },
  {
    name: '64-bit length with the top bit set',
    specs: [{ opcode: OP.binary, declaredLength: 0x8000000000000001n }],
    expected: [error(1002)],
  },
  {
    name: 'message larger than maxPayload',
    specs: [{ opcode: OP.binary, payload: pattern(101) }],
    expected: [error(1009)],
    options: { maxPayload: 100 },
  },
  {
    name: 'fragments summing over maxPayload',
    specs: [
      { opcode: OP.binary, payload: pattern(60), fin: false },
      { opcode: OP.ping },
      { opcode: OP.cont, payload: pattern(40), fin: false },
      { opcode: OP.cont, payload: pattern(1), fin: true },
    ],
    expected: [ping(), error(1009)],
    options: { maxPayload: 100 },
  },
];

function runBad(specs: FrameSpec[], masked: boolean, options: Partial<ParserOptions> | undefined): { data: Buffer; options: Opts } {
  return { data: withMask(specs, masked), options: { expectMasked: masked, maxPayload: 1 << 20, ...options } };
}

describe('bad input fails the connection with the right code', () => {
  for (const row of BAD) {
    it(`${row.name} → ${(row.expected.at(-1) as { code: number }).code}`, () => {
      for (const masked of [true, false]) {
        const { data, options } = runBad(row.specs, masked, row.options);
        expectSameAtEverySplit(data, options, row.expected, masked ? 'server' : 'client');
        for (const streaming of [true, false]) {
          const calls = parseWhole(data, { ...options, streaming });
          expect(calls.at(-1), `streaming ${streaming}`).toEqual(row.expected.at(-1));
        }
      }
    });
  }

  it('fragments summing exactly to maxPayload are accepted', () => {
    const data = frames(
      { opcode: OP.binary, payload: pattern(60), fin: false, mask: true },
      { opcode: OP.cont, payload: pattern(40), fin: true, mask: true },
      { opcode: OP.binary, payload: pattern(100), mask: true },
    );
    expect(parseWhole(data, { expectMasked: true, maxPayload: 100 })).toEqual([
      msg(Buffer.concat([pattern(60), pattern(40)]), true),
      msg(pattern(100), true),
    ]);
  });

  it('accepts every valid close code, with and without a reason', () => {
    for (const code of VALID_CODES) {
      for (const masked of [true, false]) {
        const data = frame({ opcode: OP.close, payload: closePayload(code, 'é'), mask: masked });
        expect(parseWhole(data, { expectMasked: masked }), `code ${code}`).toEqual([close(code, 'é')]);
      }
      expect(parseWhole(frame({ opcode: OP.close, payload: closePayload(code) }), CLIENT)).toEqual([close(code)]);
    }
  });

  it('a close with no payload reports 1005', () => {
    expect(parseWhole(frame({ opcode: OP.close, mask: true }), SERVER)).toEqual([close(1005)]);
  });

  it('masked frames to a client and unmasked frames to a server are refused (1002)', () => {
    for (const opcode of [OP.text, OP.binary, OP.ping, OP.close]) {
      expect(parseWhole(frame({ opcode, mask: true }), CLIENT)).toEqual([error(1002)]);
      expect(parseWhole(frame({ opcode, mask: false }), SERVER)).toEqual([error(1002)]);
    }
  });

  it('maxPayload is enforced from the header alone, before any payload byte', () => {
    for (const masked of [true, false]) {
      for (const declaredLength of [101, 65536, 2 ** 40, 0x7fffffffffffffffn]) {
        const head = frame({ opcode: OP.binary, declaredLength, mask: masked });
        // Exactly the header, nothing else.
        const n = Number(declaredLength);
        const extended = n < 126 ? 0 : n < 65536 ? 2 : 8;
        expect(head.length).toBe(2 + extended + (masked ? 4 : 0));
        const { sink, parser } = makeParser({ expectMasked: masked, maxPayload: 100 });
        for (let i = 0; i < head.length; i++) {
          expect(sink.calls, `before header byte ${i}`).toEqual([]);
          parser.push(head.subarray(i, i + 1));
        }
        expect(sink.calls, `declared ${declaredLength}`).toEqual([error(1009)]);
      }
    }
  });

  it('fragments over maxPayload fail at the header of the fragment that crosses it', () => {
    const { sink, parser } = makeParser({ expectMasked: true, maxPayload: 100 });
    parser.push(frame({ opcode: OP.binary, payload: pattern(90), fin: false, mask: true }));
    expect(sink.calls).toEqual([]);
    parser.push(frame({ opcode: OP.cont, declaredLength: 11, mask: true }));
    expect(sink.calls).toEqual([error(1009)]);
  });

  it('after an error, further input produces no sink calls', () => {
    for (const row of BAD) {
      const { data, options } = runBad(row.specs, true, row.options);
      const { sink, parser } = makeParser(options);
      parser.push(Buffer.from(data));
      const n = sink.calls.length;
      expect(sink.calls.at(-1)?.type, row.name).toBe('error');
      expect(parser.failed).toBe(true);
      parser.push(frames({ opcode: OP.text, payload: 'x', mask: true }, { opcode: OP.ping, mask: true }, { opcode: OP.close, mask: true }));
      parser.push(Buffer.from([0xff, 0xff, 0xff]));
      expect(sink.calls.length, row.name).toBe(n);
    }
  });

  it('an error mid-chunk stops the chunk: later frames in it are not delivered', () => {
    const data = frames(
      { opcode: OP.text, payload: 'first', mask: true },
      { opcode: OP.text, payload: raw('\xff'), mask: true },
      { opcode: OP.text, payload: 'never', mask: true },
      { opcode: OP.ping, payload: 'never', mask: true },
    );
    expect(parseWhole(data, SERVER)).toEqual([msg('first'), error(1007)]);
  });
});

describe('UTF-8 fails fast', () => {
  it('within one frame chopped into pieces: fails at the piece with the bad byte', () => {
    const text = Buffer.from('x'.repeat(50) + 'é'.repeat(25));
    for (const badAt of [0, 7, 49, 50, 51, 99]) {
      for (const masked of [true, false]) {
        for (const streaming of [false, true]) {
          const payload = Buffer.from(text);
          payload[badAt] = 0xff;
          const data = frame({ opcode: OP.text, payload, mask: masked });
          const headerLength = data.length - payload.length;
          const { sink, parser } = makeParser({ expectMasked: masked, streaming });
          parser.push(data.subarray(0, headerLength));
          let failedAt = -1;
          for (let start = 0; start < payload.length; start += 10) {
            parser.push(data.subarray(headerLength + start, headerLength + Math.min(start + 10, payload.length)));
            if (failedAt < 0 && sink.calls.some((c) => c.type === 'error')) failedAt = start;
          }
          const label = `bad at ${badAt}, masked ${masked}, streaming ${streaming}`;
          expect(failedAt, label).toBe(Math.floor(badAt / 10) * 10);
          expect(sink.calls.at(-1), label).toEqual(error(1007));
          // In streaming mode, pieces before the bad one were delivered; nothing after the error.
          if (streaming) {
            const fragments = sink.calls.filter((c) => c.type === 'fragment');
            expect(fragments.length, label).toBe(Math.floor(badAt / 10));
          } else {
            expect(sink.calls, label).toEqual([error(1007)]);
          }
        }
      }
    }
  });

  it('a surrogate split across pieces fails at the piece that makes it invalid', () => {
    const payload = raw('abc\xed\xa0\x80def');
    const data = frame({ opcode: OP.text, payload, mask: true });
    const { sink, parser } = makeParser(SERVER);
    parser.push(data.subarray(0, 6 + 4)); // header + "abc\xed": still a valid prefix
    expect(sink.calls).toEqual([]);
    parser.push(data.subarray(10, 11)); // "\xa0": ED A0 is a surrogate
    expect(sink.calls).toEqual([error(1007)]);
  });

  it('fragmented: fails at the fragment where it occurs, not at the end of the message', () => {
    for (const masked of [true, false]) {
      const { sink, parser } = makeParser({ expectMasked: masked });
      parser.push(frame({ opcode: OP.text, payload: raw('\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5'), fin: false, mask: masked }));
      expect(sink.calls).toEqual([]);
      parser.push(frame({ opcode: OP.cont, payload: raw('\xf4\x90\x80\x80'), fin: false, mask: masked }));
      expect(sink.calls).toEqual([error(1007)]);
    }
  });

  it('a valid character split across fragments and pieces is not rejected', () => {
    const { sink, parser } = makeParser(SERVER);
    const data = frames(
      { opcode: OP.text, payload: raw('\xe2'), fin: false, mask: true },
      { opcode: OP.cont, payload: raw('\x82\xac'), fin: true, mask: true },
    );
    for (let i = 0; i < data.length; i++) parser.push(data.subarray(i, i + 1));
    expect(sink.calls).toEqual([msg('€')]);
  });
});

describe('streaming mode', () => {
  it('delivers one fragment per frame; pieces concatenate to the message, the last with fin', () => {
    const data = frames(
      { opcode: OP.text, payload: 'Hel', fin: false, mask: true },
      { opcode: OP.ping, payload: 'p', mask: true },
      { opcode: OP.cont, payload: 'l', fin: false, mask: true },
      { opcode: OP.cont, payload: 'o', fin: true, mask: true },
      { opcode: OP.binary, payload: 'b', mask: true },
    );
    expect(parseWhole(data, { ...SERVER, streaming: true })).toEqual([
      { type: 'fragment', data: bytes('Hel'), isBinary: false, fin: false },
      ping('p'),
      { type: 'fragment', data: bytes('l'), isBinary: false, fin: false },
      { type: 'fragment', data: bytes('o'), isBinary: false, fin: true },
      { type: 'fragment', data: bytes('b'), isBinary: true, fin: true },
    ]);
  });

  it('delivers a large frame piece by piece as it arrives, without waiting for the whole frame', () => {
    for (const masked of [true, false]) {
      const payload = pattern(100_000, 7);
      const data = frame({ opcode: OP.binary, payload, mask: masked });
      const headerLength = data.length - payload.length;
      const { sink, parser } = makeParser({ expectMasked: masked, streaming: true, maxPayload: 1 << 20 });
      parser.push(data.subarray(0, headerLength + 10));
      let delivered = 10;
      expect(sink.calls).toHaveLength(1);
      for (let start = headerLength + 10; start < data.length; start += 4093) {
        const end = Math.min(start + 4093, data.length);
        parser.push(data.subarray(start, end));
        delivered += end - start;
        const fragments = sink.calls as Extract<SinkCall, { type: 'fragment' }>[];
        // Each push hands out what it brought, at once.
        expect(fragments.reduce((n, f) => n + f.data.length, 0)).toBe(delivered);
        expect(fragments.at(-1)!.fin).toBe(end === data.length);
      }
      const fragments = sink.calls as Extract<SinkCall, { type: 'fragment' }>[];
      expect(fragments.every((f) => f.isBinary)).toBe(true);
      expect(fragments.filter((f) => f.fin)).toHaveLength(1);
      expect(Buffer.concat(fragments.map((f) => f.data)).equals(payload)).toBe(true);
    }
  });

  it('streams text pieces with UTF-8 characters cut between pieces', () => {
    const payload = Buffer.from('añ€😀'.repeat(100));
    const data = frame({ opcode: OP.text, payload, mask: true });
    const calls = parseBytewise(data, { ...SERVER, streaming: true });
    const fragments = calls as Extract<SinkCall, { type: 'fragment' }>[];
    expect(fragments.every((c) => c.type === 'fragment' && !c.isBinary)).toBe(true);
    expect(fragments.length).toBe(payload.length);
    expect(Buffer.concat(fragments.map((f) => f.data))).toEqual(payload);
    expect(fragments.at(-1)!.fin).toBe(true);
  });

  it('a streamed text message ending mid-character fails with 1007 on its last piece', () => {
    const data = frame({ opcode: OP.text, payload: raw('abcdef\xe2\x82'), mask: true });
    const calls = parseChunks(data, [9], { ...SERVER, streaming: true });
    expect(calls).toEqual([{ type: 'fragment', data: bytes('abc'), isBinary: false, fin: false }, error(1007)]);
  });

  it('control frames are still delivered whole when split', () => {
    const data = frame({ opcode: OP.ping, payload: pattern(100), mask: true });
    expect(parseBytewise(data, { ...SERVER, streaming: true })).toEqual([ping(pattern(100))]);
  });
});

describe('in-place delivery', () => {
  it('a frame that arrives whole in one chunk is a view of that chunk (masked: unmasked in place)', () => {
    for (const masked of [true, false]) {
      for (const size of [5, 200, 70000]) {
        const payload = pattern(size, 3);
        const chunk = frames(
          { opcode: OP.ping, payload: 'x', mask: masked },
          { opcode: OP.binary, payload, mask: masked },
        );
        const headerLength = chunk.length - payload.length;
        const { sink, parser } = makeParser({ expectMasked: masked });
        parser.push(chunk);
        expect(sink.rawData).toHaveLength(1);
        const data = sink.rawData[0];
        expect(data.buffer).toBe(chunk.buffer);
        expect(data.byteOffset).toBe(chunk.byteOffset + headerLength);
        expect(data.equals(payload)).toBe(true);
      }
    }
  });

  it('a frame spread over chunks is copied once into a buffer of its own', () => {
    const payload = pattern(300, 3);
    const data = frame({ opcode: OP.binary, payload, mask: true });
    const a = Buffer.from(data.subarray(0, 100));
    const b = Buffer.from(data.subarray(100));
    const { sink, parser } = makeParser(SERVER);
    parser.push(a);
    parser.push(b);
    expect(sink.rawData[0].equals(payload)).toBe(true);
    expect(sink.rawData[0].length).toBe(300);
    // Its own memory: overwriting the chunks afterwards does not change it.
    a.fill(0);
    b.fill(0);
    expect(sink.rawData[0].equals(payload)).toBe(true);
  });
});
