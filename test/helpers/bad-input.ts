/**
 * The bad-input table: what a broken or hostile client sends after the handshake, and the close
 * code the server must answer with. Shared by the tests over TCP and over HTTP/2 streams.
 */
import { closePayload, frame, OP } from './raw.js';

export type BadInputRow = [name: string, bytes: () => Buffer[], code: number];

const text = (s: string | Buffer, o = {}) => frame(OP.text, s, o);

/** The rows, for a server whose maxPayload is `MAX_PAYLOAD` (at least 1024). */
export function badInputRows(MAX_PAYLOAD: number): BadInputRow[] {
  return [
    ['an unmasked frame from a client', () => [text('hi', { mask: false })], 1002],
    ['RSV1 set without an extension', () => [text('hi', { rsv: 4 })], 1002],
    ['RSV2 set', () => [text('hi', { rsv: 2 })], 1002],
    ['RSV3 set', () => [frame(OP.binary, 'hi', { rsv: 1 })], 1002],
    ...[3, 7, 0xb, 0xf].map((op): [string, () => Buffer[], number] => [`reserved opcode 0x${op.toString(16)}`, () => [frame(op, 'x')], 1002]),
    ['a ping with a 126-byte payload', () => [frame(OP.ping, Buffer.alloc(126))], 1002],
    ['a close with a 126-byte payload', () => [frame(OP.close, closePayload(1000, 'x'.repeat(124)))], 1002],
    ['a control frame with FIN=0', () => [frame(OP.ping, 'x', { fin: false })], 1002],
    ['a continuation with no message started', () => [frame(OP.cont, 'x')], 1002],
    ['a new data frame inside a fragmented message', () => [text('a', { fin: false }), frame(OP.binary, 'b')], 1002],
    ['a close frame with a 1-byte payload', () => [frame(OP.close, Buffer.from([0x03]))], 1002],
    ...[999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535].map((code): [string, () => Buffer[], number] => [
      `close code ${code}`,
      () => [frame(OP.close, closePayload(code))],
      1002,
    ]),
    ['invalid UTF-8 in a text message', () => [text(Buffer.from([0x68, 0xc0, 0xaf]))], 1007],
    ['a text message ending inside a UTF-8 sequence', () => [text(Buffer.from([0x61, 0xe2, 0x82]))], 1007],
    ['invalid UTF-8 in a close reason', () => [frame(OP.close, closePayload(1000, Buffer.from([0xce, 0xba, 0xff])))], 1007],
    // Only the 14-byte header: the server must decide from it.
    ['a 64-bit length with the top bit set', () => [frame(OP.binary, Buffer.alloc(0), { length: 1n << 63n })], 1002],
    ['a header declaring more than maxPayload (header only)', () => [frame(OP.binary, Buffer.alloc(0), { length: BigInt(MAX_PAYLOAD + 1) })], 1009],
    ['a 64-bit header declaring 4 GiB (header only)', () => [frame(OP.binary, Buffer.alloc(0), { length: 1n << 32n })], 1009],
    ['fragments summing over maxPayload', () => [frame(OP.binary, Buffer.alloc(600), { fin: false }), frame(OP.cont, Buffer.alloc(600))], 1009],
  ];
}
