// Every row of the bad-input table over a real socket: a raw client (handshake by hand) sends what
// a broken or hostile peer would; the server must answer with the exact close code, close TCP
// itself, report the same code locally, and leave another connection on the same server untouched.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connect, type WebSocket, type WebSocketServer } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { accept101, closePayload, frame, FrameReader, OP, RawClient, startRawServer } from '../helpers/raw.js';
import { badInputRows } from '../helpers/bad-input.js';
import { startEchoServer } from '../helpers/server.js';
import { closed, delay, nextMessage, type Closed } from '../helpers/wait.js';

const defer = useCleanup();
const MAX_PAYLOAD = 1024;

interface Setup {
  server: WebSocketServer;
  port: number;
  bystander: WebSocket;
  raw: RawClient;
  /** The server side of the raw connection: its close event and the errors it reported. */
  serverSide: Promise<Closed>;
  errors: Error[];
  messages: string[];
}

async function setup(): Promise<Setup> {
  const { server, port, url } = await startEchoServer(defer, { maxPayload: MAX_PAYLOAD });
  const bystander = await connect(url);
  defer(() => bystander.terminate());
  const errors: Error[] = [];
  const messages: string[] = [];
  const serverSide = new Promise<Closed>((resolve) =>
    server.once('connection', (ws) => {
      ws.on('error', (error) => errors.push(error));
      ws.on('message', (data) => messages.push(data.toString()));
      resolve(closed(ws));
    }),
  );
  const raw = await RawClient.open(port, {}, defer);
  return { server, port, bystander, raw, serverSide, errors, messages };
}

async function bystanderStillEchoes(bystander: WebSocket): Promise<void> {
  expect(bystander.readyState).toBe(1);
  const reply = nextMessage(bystander);
  bystander.send('still here');
  expect((await reply).data.toString()).toBe('still here');
}

const text = (s: string | Buffer, o = {}) => frame(OP.text, s, o);
const rows = badInputRows(MAX_PAYLOAD);

describe('bad input from a client: close code, TCP closed by the server, bystander unaffected', () => {
  for (const [name, bytes, code] of rows) {
    it(`${name} → ${code}`, async () => {
      const s = await setup();
      for (const chunk of bytes()) s.raw.write(chunk);
      expect(await s.raw.closeCode()).toBe(code);
      // The server closes TCP (§7.1.1) without waiting for our close frame.
      await s.raw.closed;
      const serverSide = await s.serverSide;
      expect(serverSide.code).toBe(code);
      expect(serverSide.wasClean).toBe(false);
      expect(s.errors.length).toBe(1);
      expect(s.messages).toEqual([]);
      // Exactly one frame back, the close, unmasked.
      expect(s.raw.frames.map((f) => f.opcode)).toEqual([OP.close]);
      expect(s.raw.frames[0].masked).toBe(false);
      await bystanderStillEchoes(s.bystander);
    });
  }

  it('the same rows split byte by byte give the same codes', async () => {
    for (const [, bytes, code] of rows.filter(([n]) => /64-bit|maxPayload|UTF-8 in a text|unmasked/.test(n))) {
      const s = await setup();
      const all = Buffer.concat(bytes());
      for (let i = 0; i < all.length && !s.raw.peerEnded; i++) {
        s.raw.write(all.subarray(i, i + 1));
        await delay(0);
      }
      expect(await s.raw.closeCode()).toBe(code);
      await s.raw.closed;
      await bystanderStillEchoes(s.bystander);
    }
  });

  it('invalid UTF-8 in a fragment → 1007 right after it, without the rest of the message', async () => {
    const s = await setup();
    s.raw.write(text('valid start ', { fin: false }));
    await delay(20);
    expect(s.raw.frames).toEqual([]); // nothing yet: the start was fine
    s.raw.write(frame(OP.cont, Buffer.from([0xed, 0xa0, 0x80]), { fin: false })); // a UTF-16 surrogate
    // The message never ends, the close comes anyway.
    expect(await s.raw.closeCode()).toBe(1007);
    await s.raw.closed;
    expect((await s.serverSide).code).toBe(1007);
    await bystanderStillEchoes(s.bystander);
  });

  it('invalid UTF-8 in the first piece of a large frame → 1007 before the frame is complete', async () => {
    const s = await setup();
    const whole = text(Buffer.concat([Buffer.from('abc'), Buffer.from([0xff]), Buffer.alloc(900, 0x61)]));
    s.raw.write(whole.subarray(0, 8 + 10)); // header (2 + 2 + 4) and 10 payload bytes
    expect(await s.raw.closeCode()).toBe(1007);
    await s.raw.closed;
  });

  it('control: a UTF-8 character split across fragments and chunks is valid and echoed', async () => {
    const s = await setup();
    s.raw.write(frame(OP.text, Buffer.from([0x61, 0xe2]), { fin: false }));
    await delay(10);
    s.raw.write(frame(OP.cont, Buffer.from([0x82]), { fin: false }));
    s.raw.write(frame(OP.ping, 'between'));
    s.raw.write(frame(OP.cont, Buffer.from([0xac, 0x62])));
    expect((await s.raw.next(OP.text)).payload.toString()).toBe('a€b');
    expect((await s.raw.next(OP.pong)).payload.toString()).toBe('between');
    expect(s.raw.frames.some((f) => f.opcode === OP.close)).toBe(false);
  });

  it.each([1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999])('valid close code %i is echoed, cleanly', async (code) => {
    const s = await setup();
    s.raw.write(frame(OP.close, closePayload(code, 'reason')));
    expect(await s.raw.closeCode()).toBe(code);
    await s.raw.closed;
    const serverSide = await s.serverSide;
    expect(serverSide).toEqual({ code, reason: 'reason', wasClean: true });
    expect(s.errors).toEqual([]);
  });

  it('data after a close frame is ignored: the close is echoed once, no message event', async () => {
    const s = await setup();
    s.raw.write(Buffer.concat([frame(OP.close, closePayload(1000)), text('after, same chunk'), frame(OP.ping, 'p')]));
    s.raw.write(text('after, next chunk'));
    s.raw.write(frame(OP.close, closePayload(1000)));
    expect(await s.raw.closeCode()).toBe(1000);
    await s.raw.closed;
    expect(s.raw.frames.map((f) => f.opcode)).toEqual([OP.close]);
    expect(s.messages).toEqual([]);
    expect((await s.serverSide).code).toBe(1000);
    await bystanderStillEchoes(s.bystander);
  });

  it('garbage right after the handshake never crashes the server', async () => {
    const s = await setup();
    s.raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')); // 'G' = 0x47: RSV bits and opcode 7
    expect(await s.raw.closeCode()).toBe(1002);
    await s.raw.closed;
    await bystanderStillEchoes(s.bystander);
  });

  it('a client dropping TCP mid-frame: the server reports 1006, the bystander is unaffected', async () => {
    const s = await setup();
    s.raw.write(text('x'.repeat(500)).subarray(0, 100));
    await delay(20);
    s.raw.socket.destroy();
    expect(await s.serverSide).toEqual({ code: 1006, reason: '', wasClean: false });
    await bystanderStillEchoes(s.bystander);
  });
});

describe('bad input from a server: our client fails the connection', () => {
  /** A raw server that answers the handshake by hand and then writes `bytes`. */
  async function clientAgainst(bytes: Buffer[]): Promise<{ ws: WebSocket; reader: Promise<FrameReader>; messages: string[]; errors: Error[] }> {
    let gotSocket!: (r: FrameReader) => void;
    const reader = new Promise<FrameReader>((resolve) => (gotSocket = resolve));
    const { port } = await startRawServer(defer, (socket: Socket, request) => {
      socket.write(accept101(request));
      const r = new FrameReader(socket);
      // The server side of a close: after the client's close frame, close TCP as §7.1.1 says.
      socket.on('end', () => socket.end());
      for (const b of bytes) socket.write(b);
      gotSocket(r);
    });
    const ws = await connect(`ws://127.0.0.1:${port}`, { closeTimeout: 1000, perMessageDeflate: false });
    defer(() => ws.terminate());
    const messages: string[] = [];
    const errors: Error[] = [];
    ws.on('message', (data) => messages.push(data.toString()));
    ws.on('error', (error) => errors.push(error));
    return { ws, reader, messages, errors };
  }

  const serverRows: Array<[string, () => Buffer[], number]> = [
    ['a masked frame', () => [frame(OP.text, 'masked', { mask: true })], 1002],
    ['RSV1 without an extension', () => [frame(OP.text, 'x', { mask: false, rsv: 4 })], 1002],
    ['reserved opcode 3', () => [frame(3, 'x', { mask: false })], 1002],
    ['a fragmented ping', () => [frame(OP.ping, 'x', { mask: false, fin: false })], 1002],
    ['invalid UTF-8', () => [frame(OP.text, Buffer.from([0xff]), { mask: false })], 1007],
    ['close code 1006', () => [frame(OP.close, closePayload(1006), { mask: false })], 1002],
  ];
  for (const [name, bytes, code] of serverRows) {
    it(`${name} → our client closes with ${code}`, async () => {
      const c = await clientAgainst(bytes());
      const result = await closed(c.ws);
      expect(result.code).toBe(code);
      expect(result.wasClean).toBe(false);
      const reader = await c.reader;
      const close = await reader.next(OP.close);
      expect(close.masked).toBe(true); // client frames are always masked
      expect(close.payload.readUInt16BE(0)).toBe(code);
      expect(c.messages).toEqual([]);
      expect(c.errors.length).toBe(1);
    });
  }

  it('frames before the bad one are delivered; nothing after it', async () => {
    const c = await clientAgainst([
      Buffer.concat([frame(OP.text, 'good', { mask: false }), frame(OP.text, 'bad', { mask: true }), frame(OP.text, 'later', { mask: false })]),
    ]);
    expect((await closed(c.ws)).code).toBe(1002);
    expect(c.messages).toEqual(['good']);
  });
});
