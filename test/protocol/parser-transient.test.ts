import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameParser, type ParserSink } from '../../src/protocol/parser.js';
import type { ProtocolError } from '../../src/protocol/errors.js';
import { OP, closePayload, frame, frames, parseWhole, pattern, type FrameSpec, type SinkCall } from './helpers.js';

/** Keeps what the parser hands out as is (no copy): anything still a view of a reused read shows. */
class KeepingSink implements ParserSink {
  calls: SinkCall[] = [];
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
    this.calls.push({ type: 'message', data, isBinary, compressed });
  }
  onFragment(data: Buffer, isBinary: boolean, fin: boolean): void {
    this.calls.push({ type: 'fragment', data, isBinary, fin });
  }
  onPing(data: Buffer): void {
    this.calls.push({ type: 'ping', data });
  }
  onPong(data: Buffer): void {
    this.calls.push({ type: 'pong', data });
  }
  onCloseFrame(code: number, reason: Buffer): void {
    this.calls.push({ type: 'close', code, reason });
  }
  onProtocolError(error: ProtocolError): void {
    this.calls.push({ type: 'error', code: error.code });
  }
}

/**
 * Feeds `data` cut at `cuts` through one read buffer that is overwritten after every push, as
 * the raw fast path does; `pauseAt`: the parser is paused before that chunk and resumed at the end.
 */
function parseThroughSharedBuffer(data: Buffer, cuts: number[], streaming: boolean, pauseAt = -1): SinkCall[] {
  const sink = new KeepingSink();
  const parser = new FrameParser(sink, { expectMasked: true, maxPayload: 1 << 20, streaming });
  const shared = Buffer.alloc(64 * 1024 + 16);
  let start = 0;
  const ends = [...cuts, data.length];
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i];
    if (i === pauseAt) parser.pause();
    // Reads land at the start of the shared buffer, one after another.
    for (let at = start; at < end; at += shared.length) {
      const n = Math.min(shared.length, end - at);
      data.copy(shared, 0, at, at + n);
      parser.push(shared.subarray(0, n), true);
      shared.fill(0xa5);
    }
    start = end;
  }
  if (pauseAt >= 0) parser.resume();
  return sink.calls.map((call) => JSON.parse(JSON.stringify(call)));
}

const specs: FrameSpec[] = [
  { opcode: OP.text, payload: 'hello', mask: true },
  { opcode: OP.ping, payload: 'are you there', mask: true },
  { opcode: OP.binary, payload: pattern(5000, 3), mask: true },
  { opcode: OP.text, payload: 'frag', fin: false, mask: true },
  { opcode: OP.pong, payload: 'p', mask: true },
  { opcode: OP.cont, payload: 'mented', mask: true },
  { opcode: OP.binary, payload: pattern(70_000, 9), mask: true },
  { opcode: OP.close, payload: closePayload(1000, 'bye'), mask: true },
];
const stream = frames(...specs);
const expected = (streaming: boolean) => JSON.parse(JSON.stringify(parseWhole(stream, { expectMasked: true, streaming })));

describe('parser: transient input (a read buffer reused after every push)', () => {
  it('hands out nothing that the next read overwrites: whole, split, paused', () => {
    for (const streaming of [false, true]) {
      const want = streaming ? null : expected(false);
      const whole = parseThroughSharedBuffer(stream, [], streaming);
      if (want) expect(whole).toEqual(want);
      for (const cut of [1, 7, 20, 3000, 5020, 40_000, stream.length - 3]) {
        const got = parseThroughSharedBuffer(stream, [cut], streaming);
        if (want) expect(got, `cut at ${cut}`).toEqual(want);
        else expect(mergedBytes(got)).toEqual(mergedBytes(expected(true)));
        const paused = parseThroughSharedBuffer(stream, [cut, Math.min(stream.length, cut + 11)], streaming, 1);
        if (want) expect(paused, `paused at ${cut}`).toEqual(want);
      }
    }
  });

  it('matches the plain parser at random cuts (fast-check)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 6 }), (cuts) => {
        cuts.sort((a, b) => a - b);
        expect(parseThroughSharedBuffer(stream, cuts, false)).toEqual(expected(false));
      }),
      { numRuns: 60 },
    );
  });

  it('still fails on the first bad frame', () => {
    const bad = Buffer.concat([frame({ opcode: OP.text, payload: 'ok', mask: true }), frame({ opcode: OP.text, payload: Buffer.from([0xff]), mask: true })]);
    expect(parseThroughSharedBuffer(bad, [3], false)).toEqual(JSON.parse(JSON.stringify(parseWhole(bad, { expectMasked: true }))));
  });
});

/** Streamed pieces differ in cutting: compare the bytes of each kind in order. */
function mergedBytes(calls: SinkCall[]): string[] {
  const out: string[] = [];
  let text = '';
  for (const call of calls) {
    if (call.type === 'fragment') {
      text += Buffer.from((call.data as unknown as { data: number[] }).data).toString('hex');
      if (call.fin) out.push(text), (text = '');
    } else out.push(JSON.stringify(call));
  }
  return out;
}
