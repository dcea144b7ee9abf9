import { describe, expect, it } from 'vitest';
import { Connection, State, checkClose, type ConnectionEvents, type ConnectionOptions, type Side } from '../../src/protocol/connection.js';
import type { ProtocolError } from '../../src/protocol/errors.js';
import { OP, bytes, closePayload, frame, frames, naiveMask, pattern } from './helpers.js';

type Event =
  | { type: 'message'; data: Buffer; isBinary: boolean }
  | { type: 'fragment'; data: Buffer; isBinary: boolean; fin: boolean }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'closed'; code: number; reason: Buffer }
  | { type: 'failed'; code: number };

interface Written {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Decodes one written frame independently of src/ (header by hand, unmasking by the naive loop). */
function decode(data: Buffer): Written {
  const b0 = data[0];
  const b1 = data[1];
  let length = b1 & 0x7f;
  let pos = 2;
  if (length === 126) {
    length = data.readUInt16BE(2);
    pos = 4;
  } else if (length === 127) {
    length = Number(data.readBigUInt64BE(2));
    pos = 10;
  }
  const masked = (b1 & 0x80) !== 0;
  let payload = data.subarray(pos + (masked ? 4 : 0));
  expect(payload.length).toBe(length);
  if (masked) payload = naiveMask(payload, data.subarray(pos, pos + 4));
  return { fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, opcode: b0 & 0x0f, masked, payload: Buffer.from(payload) };
}

/** The size of the frame at the start of `data`, from its header. */
function frameLength(data: Buffer): number {
  const b1 = data[1];
  const length = b1 & 0x7f;
  const head = length === 126 ? 4 : length === 127 ? 10 : 2;
  const payload = length === 126 ? data.readUInt16BE(2) : length === 127 ? Number(data.readBigUInt64BE(2)) : length;
  return head + (b1 & 0x80 ? 4 : 0) + payload;
}

class Recorder implements ConnectionEvents {
  events: Event[] = [];
  written: Written[] = [];
  /** The bytes of each frame written. */
  raw: Buffer[] = [];
  connection: Connection | null = null;
  resumed = 0;
  /** Takes the output at once, as a transport with an idle socket would, and splits it into frames. */
  output(): void {
    const batch = this.connection!.takeOutput();
    if (!batch) return;
    let data = Buffer.concat(batch.parts);
    while (data.length > 0) {
      const size = frameLength(data);
      this.raw.push(Buffer.from(data.subarray(0, size)));
      this.written.push(decode(data.subarray(0, size)));
      data = data.subarray(size);
    }
    for (const callback of batch.callbacks ?? []) callback();
  }
  resumeReading(): void {
    this.resumed++;
  }
  message(data: Buffer, isBinary: boolean): void {
    this.events.push({ type: 'message', data: Buffer.from(data), isBinary });
  }
  fragment(data: Buffer, isBinary: boolean, fin: boolean): void {
    this.events.push({ type: 'fragment', data: Buffer.from(data), isBinary, fin });
  }
  ping(data: Buffer): void {
    this.events.push({ type: 'ping', data: Buffer.from(data) });
  }
  pong(data: Buffer): void {
    this.events.push({ type: 'pong', data: Buffer.from(data) });
  }
  closed(code: number, reason: Buffer): void {
    this.events.push({ type: 'closed', code, reason: Buffer.from(reason) });
  }
  failed(error: ProtocolError): void {
    this.events.push({ type: 'failed', code: error.code });
  }
}

function setup(side: Side = 'server', options: ConnectionOptions = {}): { c: Connection; r: Recorder; peerMask: boolean } {
  const r = new Recorder();
  const c = new Connection(side, r, options);
  r.connection = c;
  return { c, r, peerMask: side === 'server' };
}

const w = (opcode: number, payload: Uint8Array | string = '', fin = true): Omit<Written, 'masked'> => ({
  fin,
  rsv1: false,
  opcode,
  payload: bytes(payload),
});

function written(r: Recorder): Omit<Written, 'masked'>[] {
  return r.written.map(({ masked: _masked, ...rest }) => rest);
}

describe('Connection', () => {
  for (const side of ['server', 'client'] as const) {
    describe(side, () => {
      const masked = side === 'server'; // what the peer sends
      const ours = side === 'client'; // whether our output is masked

      it('answers a ping with a pong carrying the same payload, then reports the ping', () => {
        const { c, r } = setup(side);
        c.receive(frame({ opcode: OP.ping, payload: 'are you there?', mask: masked }));
        expect(written(r)).toEqual([w(OP.pong, 'are you there?')]);
        expect(r.written[0].masked).toBe(ours);
        expect(r.events).toEqual([{ type: 'ping', data: bytes('are you there?') }]);
      });

      it('a pong owed while congested goes before our close frame, never after it', () => {
        const { c, r } = setup(side);
        c.congested = true;
        c.receive(frame({ opcode: OP.ping, payload: 'owed', mask: masked }));
        expect(written(r)).toEqual([]);
        c.close(1000);
        expect(written(r)).toEqual([w(OP.pong, 'owed'), w(OP.close, closePayload(1000))]);
      });

      it('delivers messages and pongs', () => {
        const { c, r } = setup(side);
        c.receive(
          frames(
            { opcode: OP.text, payload: 'hi', mask: masked },
            { opcode: OP.pong, payload: 'p', mask: masked },
            { opcode: OP.binary, payload: pattern(300), mask: masked },
          ),
        );
        expect(r.events).toEqual([
          { type: 'message', data: bytes('hi'), isBinary: false },
          { type: 'pong', data: bytes('p') },
          { type: 'message', data: pattern(300), isBinary: true },
        ]);
        expect(r.written).toEqual([]);
      });

      it('answers a received close with the same code, then fires closed', () => {
        const { c, r } = setup(side);
        c.receive(frame({ opcode: OP.close, payload: closePayload(4000, 'bye'), mask: masked }));
        expect(written(r)).toEqual([w(OP.close, closePayload(4000))]);
        expect(r.events).toEqual([{ type: 'closed', code: 4000, reason: bytes('bye') }]);
        expect(c.state).toBe(State.Closed);
        expect(c.closeReceived && c.closeSent).toBe(true);
        expect(c.closeCode).toBe(4000);
        // Nothing more may be sent after the close.
        expect(c.send(bytes('late'), false)).toBe(false);
        expect(c.ping()).toBe(false);
        expect(r.written).toHaveLength(1);
      });

      it('answers a close with no payload with an empty close', () => {
        const { c, r } = setup(side);
        c.receive(frame({ opcode: OP.close, mask: masked }));
        expect(written(r)).toEqual([w(OP.close, '')]);
        expect(r.events).toEqual([{ type: 'closed', code: 1005, reason: bytes('') }]);
      });

      it('close() then the peer’s close completes the handshake', () => {
        const { c, r } = setup(side);
        c.close(1001, 'going');
        expect(written(r)).toEqual([w(OP.close, closePayload(1001, 'going'))]);
        expect(r.written[0].masked).toBe(ours);
        expect(c.state).toBe(State.Closing);
        expect(r.events).toEqual([]);
        // Messages still arriving before the peer's close are delivered (§7.1.1 half-open).
        c.receive(frame({ opcode: OP.text, payload: 'in flight', mask: masked }));
        // A ping is no longer answered once our close is out.
        c.receive(frame({ opcode: OP.ping, payload: 'x', mask: masked }));
        c.receive(frame({ opcode: OP.close, payload: closePayload(1001), mask: masked }));
        expect(r.events).toEqual([
          { type: 'message', data: bytes('in flight'), isBinary: false },
          { type: 'ping', data: bytes('x') },
          { type: 'closed', code: 1001, reason: bytes('') },
        ]);
        expect(r.written).toHaveLength(1);
        expect(c.state).toBe(State.Closed);
        // A second close() is a no-op.
        c.close(1000);
        expect(r.written).toHaveLength(1);
      });

      it('close() without a code sends an empty close frame', () => {
        const { c, r } = setup(side);
        c.close();
        expect(written(r)).toEqual([w(OP.close, '')]);
      });

      it('a protocol error writes a close frame with the error code, then fires failed', () => {
        const { c, r } = setup(side);
        c.receive(frame({ opcode: 0x3, payload: 'x', mask: masked }));
        expect(r.written).toHaveLength(1);
        const close = r.written[0];
        expect(close.opcode).toBe(OP.close);
        expect(close.payload.readUInt16BE(0)).toBe(1002);
        expect(close.payload.length).toBeLessThanOrEqual(125);
        expect(r.events).toEqual([{ type: 'failed', code: 1002 }]);
        expect(c.state).toBe(State.Closed);
        expect(c.error?.code).toBe(1002);
        // Nothing more is parsed.
        c.receive(frame({ opcode: OP.text, payload: 'x', mask: masked }));
        expect(r.events).toHaveLength(1);
      });

      it('invalid UTF-8 fails with 1007, a too-big message with 1009', () => {
        const a = setup(side);
        a.c.receive(frame({ opcode: OP.text, payload: Buffer.of(0xff), mask: masked }));
        expect(a.r.written[0].payload.readUInt16BE(0)).toBe(1007);
        expect(a.r.events).toEqual([{ type: 'failed', code: 1007 }]);

        const b = setup(side, { maxPayload: 10 });
        b.c.receive(frame({ opcode: OP.binary, declaredLength: 11, mask: masked }));
        expect(b.r.written[0].payload.readUInt16BE(0)).toBe(1009);
        expect(b.r.events).toEqual([{ type: 'failed', code: 1009 }]);
      });

      it('ignores data after a close frame, in later chunks', () => {
        const { c, r } = setup(side);
        c.receive(frame({ opcode: OP.close, payload: closePayload(1000), mask: masked }));
        c.receive(frame({ opcode: OP.text, payload: 'after', mask: masked }));
        c.receive(frame({ opcode: OP.ping, payload: 'after', mask: masked }));
        c.receive(Buffer.from([0xff, 0xff]));
        expect(r.events).toEqual([{ type: 'closed', code: 1000, reason: bytes('') }]);
        expect(r.written).toHaveLength(1);
      });

      it('ignores data after a close frame in the same chunk', () => {
        const { c, r } = setup(side);
        c.receive(
          frames(
            { opcode: OP.text, payload: 'before', mask: masked },
            { opcode: OP.close, payload: closePayload(1000), mask: masked },
            { opcode: OP.text, payload: 'after', mask: masked },
            { opcode: OP.ping, payload: 'after', mask: masked },
            { opcode: 0x3, mask: masked },
          ),
        );
        expect(r.events).toEqual([
          { type: 'message', data: bytes('before'), isBinary: false },
          { type: 'closed', code: 1000, reason: bytes('') },
        ]);
        expect(written(r)).toEqual([w(OP.close, closePayload(1000))]);
        expect(c.error).toBe(null);
      });

      it('sends fin:false then continuation frames', () => {
        const { c, r } = setup(side);
        expect(c.send(bytes('Hel'), false, false)).toBe(true);
        c.send(bytes('l'), true, false); // isBinary is ignored after the first frame
        c.send(bytes('o'), false, true);
        c.send(bytes('next'), true);
        expect(written(r)).toEqual([w(OP.text, 'Hel', false), w(OP.cont, 'l', false), w(OP.cont, 'o', true), w(OP.binary, 'next')]);
        expect(r.written.every((f) => f.masked === ours)).toBe(true);
      });

      it('sendFrame in the middle of a fragmented message waits for its end', () => {
        const { c, r } = setup(side);
        const pre = frame({ opcode: OP.text, payload: 'whole', mask: ours });
        expect(c.sendFrame(pre)).toBe(true);
        c.send(bytes('a'), true, false);
        expect(c.sendFrame(pre)).toBe(true);
        expect(r.written.map((f) => f.opcode)).toEqual([OP.text, OP.binary]);
        c.send(bytes('b'), true, true);
        expect(c.sendFrame(pre)).toBe(true);
        expect(r.written.map((f) => [f.opcode, f.payload.toString()])).toEqual([
          [OP.text, 'whole'],
          [OP.binary, 'a'],
          [OP.cont, 'b'],
          [OP.text, 'whole'],
          [OP.text, 'whole'],
        ]);
      });

      it('ping() and pong() write control frames; payloads over 125 bytes throw', () => {
        const { c, r } = setup(side);
        c.ping(pattern(125));
        c.pong(bytes('p'));
        expect(written(r)).toEqual([w(OP.ping, pattern(125)), w(OP.pong, 'p')]);
        expect(() => c.ping(pattern(126))).toThrow(RangeError);
        expect(() => c.pong(pattern(126))).toThrow(RangeError);
        expect(r.written).toHaveLength(2);
      });

      it('close() validates codes and reason length', () => {
        const { c, r } = setup(side);
        for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5]) {
          expect(() => c.close(code), String(code)).toThrow(RangeError);
        }
        expect(() => c.close(1000, 'x'.repeat(124))).toThrow(RangeError);
        expect(() => c.close(1000, 'é'.repeat(62))).toThrow(RangeError); // 124 bytes in 62 characters
        expect(() => c.close(undefined, 'reason without code')).toThrow(TypeError);
        expect(r.written).toEqual([]);
        expect(c.closeSent).toBe(false);
        c.close(4999, 'x'.repeat(123));
        expect(written(r)).toEqual([w(OP.close, closePayload(4999, 'x'.repeat(123)))]);
      });
    });
  }

  it('client output is masked with a key, and unmasks to the payload', () => {
    const { c, r } = setup('client');
    const raw = r.raw;
    const payload = pattern(5000, 2);
    c.send(payload, true);
    c.send(bytes('Hello'), false);
    c.ping(bytes('Hello'));
    for (const frameBytes of raw) expect(frameBytes[1] & 0x80).toBe(0x80);
    // The bytes on the wire are not the payload in the clear.
    expect(raw[1].subarray(6).equals(bytes('Hello'))).toBe(false);
    expect(written(r)).toEqual([w(OP.binary, payload), w(OP.text, 'Hello'), w(OP.ping, 'Hello')]);
  });

  it('server output is not masked', () => {
    const { c, r } = setup('server');
    c.send(bytes('Hello'), false);
    expect(r.written[0].masked).toBe(false);
  });

  it('refuses unmasked frames as a server and masked frames as a client', () => {
    const s = setup('server');
    s.c.receive(frame({ opcode: OP.text, payload: 'x' }));
    expect(s.r.events).toEqual([{ type: 'failed', code: 1002 }]);
    const cl = setup('client');
    cl.c.receive(frame({ opcode: OP.text, payload: 'x', mask: true }));
    expect(cl.r.events).toEqual([{ type: 'failed', code: 1002 }]);
  });

  it('streaming: fragments are passed on as they arrive', () => {
    const { c, r } = setup('server', { streaming: true });
    c.receive(frame({ opcode: OP.binary, payload: pattern(10), fin: false, mask: true }));
    expect(r.events).toEqual([{ type: 'fragment', data: pattern(10), isBinary: true, fin: false }]);
    c.receive(frame({ opcode: OP.cont, payload: pattern(3), mask: true }));
    expect(r.events.at(-1)).toEqual({ type: 'fragment', data: pattern(3), isBinary: true, fin: true });
  });

  it('an error while the close handshake is under way still fails once, without a second close', () => {
    const { c, r } = setup('server');
    c.close(1000);
    c.receive(frame({ opcode: OP.text, payload: Buffer.of(0xff), mask: true }));
    expect(r.written).toHaveLength(1);
    expect(r.events).toEqual([{ type: 'failed', code: 1007 }]);
  });
});

describe('checkClose', () => {
  it('accepts sendable codes and short reasons', () => {
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]) {
      expect(() => checkClose(code, ''), String(code)).not.toThrow();
    }
    expect(() => checkClose(undefined, '')).not.toThrow();
    expect(() => checkClose(1000, new Uint8Array(123))).not.toThrow();
    expect(() => checkClose(1000, new Uint8Array(124))).toThrow(RangeError);
  });
});
