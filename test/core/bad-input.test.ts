// Every row of the bad-input table, over a real socket: the exact close code, TCP closed by the
// server, and another connection on the same server that notices nothing.
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type WebSocket, type WebSocketServer } from '../../src/index.js';
import { closePayload, echoServer, frame, parseFrames, RawClient } from './raw.js';

const TEXT = 0x1;
const BINARY = 0x2;
const CONT = 0x0;
const CLOSE = 0x8;
const PING = 0x9;

let server: WebSocketServer;
let port: number;
let bystander: WebSocket;

beforeAll(async () => {
  ({ server, port } = await echoServer({ maxPayload: 1024 }));
  bystander = await connect(`ws://127.0.0.1:${port}`);
});
afterAll(async () => {
  bystander.terminate();
  await server.close({ timeout: 100 });
});

async function bystanderEchoes(): Promise<string> {
  const reply = new Promise<string>((resolve) => bystander.once('message', (data) => resolve(data.toString())));
  bystander.send('still here');
  return reply;
}

const rows: Array<[string, () => Buffer[], number]> = [
  ['an unmasked frame from a client', () => [frame(TEXT, 'hi', { mask: false })], 1002],
  ['RSV1 without a negotiated extension', () => [frame(TEXT, 'hi', { rsv: 4 })], 1002],
  ['RSV2', () => [frame(TEXT, 'hi', { rsv: 2 })], 1002],
  ['RSV3', () => [frame(BINARY, 'hi', { rsv: 1 })], 1002],
  ...[3, 7, 0xb, 0xf].map((op): [string, () => Buffer[], number] => [`reserved opcode ${op}`, () => [frame(op, 'x')], 1002]),
  ['a control frame with a 126-byte payload', () => [frame(PING, Buffer.alloc(126))], 1002],
  ['a fragmented control frame', () => [frame(PING, 'x', { fin: false })], 1002],
  ['a continuation with no message started', () => [frame(CONT, 'x')], 1002],
  ['a new message inside a fragmented one', () => [frame(TEXT, 'a', { fin: false }), frame(TEXT, 'b')], 1002],
  ['a close frame with a 1-byte payload', () => [frame(CLOSE, Buffer.from([0x03]))], 1002],
  ...[999, 1004, 1005, 1006, 1015, 1016, 2999, 5000].map((code): [string, () => Buffer[], number] => [
    `close code ${code}`,
    () => [frame(CLOSE, closePayload(code))],
    1002,
  ]),
  ['invalid UTF-8 in a text message', () => [frame(TEXT, Buffer.from([0x68, 0xc0, 0xaf]))], 1007],
  ['invalid UTF-8 in a close reason', () => [frame(CLOSE, Buffer.concat([closePayload(1000), Buffer.from([0xff])]))], 1007],
  ['a 64-bit length with the top bit set', () => [frame(BINARY, Buffer.alloc(0), { length: 1n << 63n }).subarray(0, 14)], 1002],
  ['a header declaring more than maxPayload', () => [frame(BINARY, Buffer.alloc(0), { length: 2000n }).subarray(0, 8)], 1009],
  ['fragments summing over maxPayload', () => [frame(BINARY, Buffer.alloc(600), { fin: false }), frame(CONT, Buffer.alloc(600))], 1009],
];

describe('bad input from a client', () => {
  for (const [name, bytes, code] of rows) {
    it(`${name} → close ${code}, TCP closed, others unaffected`, async () => {
      const raw = await RawClient.open(port);
      for (const chunk of bytes()) raw.send(chunk);
      expect(await raw.closeCode()).toBe(code);
      expect(await bystanderEchoes()).toBe('still here');
    });
  }

  it('invalid UTF-8 in a fragment fails at that fragment, without waiting for the rest', async () => {
    const raw = await RawClient.open(port);
    raw.send(frame(TEXT, 'valid start ', { fin: false }));
    raw.send(frame(CONT, Buffer.from([0xed, 0xa0, 0x80]), { fin: false })); // a UTF-16 surrogate
    // The message never ends: the close must come anyway.
    expect(await raw.closeCode()).toBe(1007);
  });

  it('invalid UTF-8 inside one frame fails in the piece that carries it', async () => {
    const raw = await RawClient.open(port);
    const bytes = frame(TEXT, Buffer.concat([Buffer.from('0123456789'), Buffer.from([0xf5]), Buffer.alloc(100, 0x61)]));
    raw.send(bytes.subarray(0, 6 + 11)); // header, mask and the first 11 payload bytes
    expect(await raw.closeCode()).toBe(1007);
  });

  it('data after a close frame is ignored: the close is echoed once and nothing is delivered', async () => {
    const messages: string[] = [];
    server.once('connection', (ws) => ws.on('message', (data) => messages.push(data.toString())));
    const raw = await RawClient.open(port);
    raw.send(Buffer.concat([frame(CLOSE, closePayload(1000)), frame(TEXT, 'after'), frame(PING, 'p')]));
    expect(await raw.closeCode()).toBe(1000);
    expect(raw.frames.map((f) => f.opcode)).toEqual([CLOSE]);
    expect(messages).toEqual([]);
  });
});

describe('bad input from a server', () => {
  let rawServer: Server;
  let rawPort: number;
  const toSend: Buffer[] = [];
  let received: Promise<Buffer>;

  beforeAll(async () => {
    rawServer = createServer((socket: Socket) => {
      let request = '';
      socket.on('data', function onData(chunk) {
        request += chunk.toString('latin1');
        if (!request.includes('\r\n\r\n')) return;
        socket.off('data', onData);
        const key = /Sec-WebSocket-Key: (\S+)/i.exec(request)![1];
        const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        for (const bytes of toSend.splice(0)) socket.write(bytes);
        let all = Buffer.alloc(0);
        received = new Promise((resolve) => {
          socket.on('data', (more) => (all = Buffer.concat([all, more])));
          socket.on('close', () => resolve(all));
          socket.on('end', () => socket.end());
        });
      });
    });
    await new Promise<void>((resolve) => rawServer.listen(0, '127.0.0.1', () => resolve()));
    rawPort = (rawServer.address() as { port: number }).port;
  });
  afterAll(() => rawServer.close());

  it('a masked frame from a server → our client closes with 1002', async () => {
    toSend.push(frame(TEXT, 'masked', { mask: true }));
    const ws = await connect(`ws://127.0.0.1:${rawPort}`, { closeTimeout: 500 });
    const closed = new Promise<[number, boolean]>((resolve) => ws.on('close', (code, _r, clean) => resolve([code, clean])));
    const messages: string[] = [];
    ws.on('message', (data) => messages.push(data.toString()));
    expect(await closed).toEqual([1002, false]);
    const { frames } = parseFrames(await received);
    expect(frames[0].opcode).toBe(CLOSE);
    expect(frames[0].masked).toBe(true);
    expect(frames[0].payload.readUInt16BE(0)).toBe(1002);
    expect(messages).toEqual([]);
  });
});
