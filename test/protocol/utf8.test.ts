import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { Utf8Validator } from '../../src/protocol/utf8.js';
import { raw } from './helpers.js';

const fatal = new TextDecoder('utf-8', { fatal: true });

function decoderAccepts(data: Uint8Array): boolean {
  try {
    fatal.decode(data);
    return true;
  } catch {
    return false;
  }
}

/**
 * Independent oracle: can `prefix` still become valid UTF-8 with more bytes? At most 3 more bytes
 * are ever needed, and each continuation range of Unicode Table 3-7 (80..BF, A0..BF, 80..9F,
 * 90..BF, 80..8F) contains one of 0x80, 0x90, 0xA0, so trying those is exhaustive.
 */
function viablePrefix(prefix: Uint8Array): boolean {
  const candidates = [0x80, 0x90, 0xa0];
  const tails: number[][] = [[]];
  for (const a of candidates) {
    tails.push([a]);
    for (const b of candidates) {
      tails.push([a, b]);
      for (const c of candidates) tails.push([a, b, c]);
    }
  }
  return tails.some((tail) => isUtf8(Buffer.concat([prefix, Buffer.from(tail)])));
}

/** What the validator must answer for each piece: true until the first non-viable prefix, then false. */
function expectedResults(pieces: Uint8Array[]): { results: boolean[]; end: boolean | null } {
  const results: boolean[] = [];
  let sofar: Buffer = Buffer.alloc(0);
  for (const piece of pieces) {
    sofar = Buffer.concat([sofar, piece]);
    const ok = viablePrefix(sofar);
    results.push(ok);
    if (!ok) return { results, end: null };
  }
  return { results, end: isUtf8(sofar) };
}

function run(pieces: Uint8Array[]): { results: boolean[]; end: boolean | null } {
  const v = new Utf8Validator();
  const results: boolean[] = [];
  for (const piece of pieces) {
    const ok = v.push(piece);
    results.push(ok);
    if (!ok) return { results, end: null };
  }
  return { results, end: v.end() };
}

function splitAt(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, data.length]) {
    pieces.push(data.subarray(start, cut));
    start = cut;
  }
  return pieces;
}

// Autobahn 6.x-style vectors: valid, invalid, and truncated sequences.
const VECTORS: string[] = [
  '',
  'Hello-µ@ßöäüàá-UTF-8!!',
  '\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5',
  '\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited',
  '\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64',
  '\xf0\x90\x80\x80',
  '\xf4\x8f\xbf\xbf',
  '\xf4\x90\x80\x80',
  '\xf7\xbf\xbf\xbf',
  '\xef\xbf\xbf',
  '\xed\x9f\xbf',
  '\xed\xa0\x80',
  '\xed\xbf\xbf',
  '\xee\x80\x80',
  '\xe0\xa0\x80',
  '\xe0\x80\x80',
  '\xe0\x9f\xbf',
  '\xc2\x80',
  '\xc1\xbf',
  '\xc0\x80',
  '\xdf\xbf',
  '\x80',
  '\xbf',
  '\xfe',
  '\xff',
  '\xc0\xaf',
  '\xf0\x80\x80\xaf',
  '\xf0\x8f\xbf\xbf',
  '\xe2\x82\xac',
  '\xe2\x82',
  '\xf0\x9f\x98',
  'a\xe2\x82\xacb\xf0\x9f\x98\x80c\xc3\xa9',
  'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xf0\x9f\x98\x80xxxxxxxxxxxxxxxxxxxx\xe2\x82\xac',
  'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xf0\x9f\x98xxxxxxxxxxxxxxxxxxxxx',
  '\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\x80\xe2\x82\xac',
  '\xe2\x82\xc3\xa9',
];

describe('Utf8Validator', () => {
  it('agrees with Buffer.isUtf8 and TextDecoder({fatal}) on the vectors, whole', () => {
    for (const s of VECTORS) {
      const data = raw(s);
      const v = new Utf8Validator();
      const whole = v.push(data) && v.end();
      expect(whole, JSON.stringify(s)).toBe(isUtf8(data));
      expect(whole, JSON.stringify(s)).toBe(decoderAccepts(data));
    }
  });

  it('fails exactly at the first non-viable prefix, for every split into two pieces and byte by byte', () => {
    for (const s of VECTORS) {
      const data = raw(s);
      for (let cut = 0; cut <= data.length; cut++) {
        const pieces = splitAt(data, [cut]);
        expect(run(pieces), `${JSON.stringify(s)} cut at ${cut}`).toEqual(expectedResults(pieces));
      }
      const bytewise = splitAt(
        data,
        Array.from({ length: Math.max(0, data.length - 1) }, (_, i) => i + 1),
      );
      expect(run(bytewise), `${JSON.stringify(s)} byte by byte`).toEqual(expectedResults(bytewise));
    }
  });

  it('fails on the piece where the message goes wrong, not later', () => {
    // Autobahn 6.4.1: valid κόσμε, then U+110000, then more text.
    expect(run([raw('\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5'), raw('\xf4\x90\x80\x80'), raw('\x65\x64\x69\x74\x65\x64')]))
      .toEqual({ results: [true, false], end: null });
    // Autobahn 6.4.2: the invalid sequence is cut after its second byte (F4 90 is already dead).
    expect(run([raw('\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4'), raw('\x90'), raw('\x80\x80\x65\x64')]))
      .toEqual({ results: [true, false], end: null });
  });

  it('rejects dead sequences immediately, even incomplete ones', () => {
    const dead = ['\xed\xa0', '\xe0\x80', '\xf5', '\xc0', '\xc1', '\xf8', '\xff', '\x80', '\xf0\x8f', '\xf4\x90', 'abc\xed\xa0'];
    for (const s of dead) {
      expect(new Utf8Validator().push(raw(s)), JSON.stringify(s)).toBe(false);
    }
    // The same, with the dead byte arriving as the second piece after a valid lead.
    for (const [a, b] of [
      ['\xed', '\xa0'],
      ['\xe0', '\x80'],
      ['\xf0', '\x8f'],
      ['\xf4', '\x90'],
      ['\xe2\x82', 'a'],
      ['\xc3', '\xc3'],
    ]) {
      const v = new Utf8Validator();
      expect(v.push(raw(a)), JSON.stringify(a)).toBe(true);
      expect(v.push(raw(b)), JSON.stringify(a + b)).toBe(false);
    }
  });

  it('does not fail a valid prefix cut mid-sequence', () => {
    const v = new Utf8Validator();
    expect(v.push(raw('\xe2\x82'))).toBe(true);
    expect(v.push(raw('\xac'))).toBe(true);
    expect(v.end()).toBe(true);

    const w = new Utf8Validator();
    expect(w.push(raw('abc\xf0'))).toBe(true);
    expect(w.push(raw('\x9f'))).toBe(true);
    expect(w.push(raw(''))).toBe(true);
    expect(w.push(raw('\x98'))).toBe(true);
    expect(w.push(raw('\x80xyz'))).toBe(true);
    expect(w.end()).toBe(true);
  });

  it('end() is false when the message stops mid-sequence, and resets for the next message', () => {
    const v = new Utf8Validator();
    expect(v.push(raw('ok\xe2\x82'))).toBe(true);
    expect(v.end()).toBe(false);
    // Reset: the next message starts fresh; a stray continuation byte is now invalid.
    expect(v.push(raw('\xac'))).toBe(false);
    v.reset();
    expect(v.push(raw('fine'))).toBe(true);
    expect(v.end()).toBe(true);
    const w = new Utf8Validator();
    expect(w.push(raw('\xf0\x9f\x98'))).toBe(true);
    expect(w.end()).toBe(false);
  });

  it('honours start/end arguments', () => {
    const data = raw('\xff\xe2\x82\xac\xff');
    const v = new Utf8Validator();
    expect(v.push(data, 1, 3)).toBe(true);
    expect(v.push(data, 3, 4)).toBe(true);
    expect(v.end()).toBe(true);
    expect(new Utf8Validator().push(data, 0, 1)).toBe(false);
  });

  // Mostly-valid text with occasional troublemakers, so failures land anywhere in the input.
  const tricky = [0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
  const token = fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }).map((s) => Buffer.from(s, 'utf8')) },
    { weight: 1, arbitrary: fc.constantFrom(...tricky).map((b) => Buffer.of(b)) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 3 }).map((a) => Buffer.from(a)) },
  );
  const message = fc.array(token, { maxLength: 40 }).map((parts) => Buffer.concat(parts));

  it('property: random bytes, whole, agree with isUtf8 and TextDecoder', () => {
    fc.assert(
      fc.property(fc.oneof(message, fc.uint8Array({ maxLength: 64 })), (data) => {
        const v = new Utf8Validator();
        const result = v.push(data) && v.end();
        expect(result).toBe(isUtf8(data));
        expect(result).toBe(decoderAccepts(data));
      }),
      { numRuns: 2000 },
    );
  });

  it('property: random bytes split at every point fail exactly where the oracle says', () => {
    fc.assert(
      fc.property(message, (data) => {
        for (let cut = 0; cut <= data.length; cut++) {
          const pieces = splitAt(data, [cut]);
          expect(run(pieces)).toEqual(expectedResults(pieces));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('property: random bytes at random splits fail exactly where the oracle says', () => {
    fc.assert(
      fc.property(
        message.chain((data) =>
          fc.tuple(
            fc.constant(data),
            fc.uniqueArray(fc.integer({ min: 0, max: data.length }), { maxLength: 12 }).map((c) => c.sort((a, b) => a - b)),
          ),
        ),
        ([data, cuts]) => {
          const pieces = splitAt(data, cuts);
          const got = run(pieces);
          expect(got).toEqual(expectedResults(pieces));
          if (got.end !== null) expect(got.end).toBe(decoderAccepts(data));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
