// Our client ⇄ our server over loopback: every kind of message and every way a connection ends.
import { afterEach, describe, expect, it } from 'vitest';
import { connect, HandshakeError, WebSocket, type WebSocketServer } from '../../src/index.js';
import { echoServer, RawClient, frame } from './raw.js';

const servers: WebSocketServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close({ timeout: 200 })));
});

async function start(options = {}) {
  const started = await echoServer(options);
  servers.push(started.server);
  return started;
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data, isBinary })));
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string; wasClean: boolean }> {
  return new Promise((resolve) => ws.once('close', (code, reason, wasClean) => resolve({ code, reason: reason.toString(), wasClean })));
}

describe('messages', () => {
  it('text, binary of every kind, empty, 1 MiB and fragmented messages round-trip', async () => {
    const { port } = await start();
    const ws = await connect(`ws://127.0.0.1:${port}`);
    const big = Buffer.alloc(1 << 20, 'xyz');
    const cases: Array<[Parameters<WebSocket['send']>[0], Buffer, boolean]> = [
      ['héllo ✓', Buffer.from('héllo ✓'), false],
      [Buffer.from([1, 2, 3]), Buffer.from([1, 2, 3]), true],
      [new Uint8Array([4, 5]).buffer, Buffer.from([4, 5]), true],
      [new Uint16Array([0x0102]), Buffer.from(new Uint16Array([0x0102]).buffer), true],
      [new DataView(new Uint8Array([9, 8, 7]).buffer, 1, 2), Buffer.from([8, 7]), true],
      ['', Buffer.alloc(0), false],
      [big, big, true],
    ];
    for (const [sent, expected, isBinary] of cases) {
      const reply = nextMessage(ws);
      ws.send(sent);
      const { data, isBinary: binary } = await reply;
      expect(binary).toBe(isBinary);
      expect(data.equals(expected)).toBe(true);
    }
    const reply = nextMessage(ws);
    ws.send('one ', { fin: false });
    ws.send('two ', { fin: false });
    ws.send('three', { fin: true });
    expect((await reply).data.toString()).toBe('one two three');
    const streamed = nextMessage(ws);
    await ws.sendStream((async function* () {
      for (let i = 0; i < 5; i++) yield Buffer.alloc(1000, i);
    })(), { binary: true });
    expect((await streamed).data.length).toBe(5000);
    ws.close();
  });

  it('ping and pong carry their payloads; pings are answered automatically', async () => {
    const { server, port } = await start();
    const serverSide = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
    const ws = await connect(`ws://127.0.0.1:${port}`);
    const peer = await serverSide;
    const pinged = new Promise<Buffer>((resolve) => peer.once('ping', resolve));
    const ponged = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
    ws.ping('are you there');
    expect((await pinged).toString()).toBe('are you there');
    expect((await ponged).toString()).toBe('are you there');
    const unsolicited = new Promise<Buffer>((resolve) => peer.once('pong', resolve));
    ws.pong('heartbeat');
    expect((await unsolicited).toString()).toBe('heartbeat');
    expect(() => ws.ping(Buffer.alloc(126))).toThrow(RangeError);
    ws.close();
  });

  it('for await yields Message objects and ends on close; binaryType applies', async () => {
    const { port } = await start();
    const ws = await connect(`ws://127.0.0.1:${port}`);
    ws.send('a');
    ws.send(Buffer.from('b'));
    const seen: string[] = [];
    for await (const message of ws) {
      seen.push(`${message.isBinary ? 'binary' : 'text'}:${message.text()}`);
      if (seen.length === 2) ws.close(1000);
    }
    expect(seen).toEqual(['text:a', 'binary:b']);
    const ws2 = await connect(`ws://127.0.0.1:${port}`);
    ws2.binaryType = 'arraybuffer';
    const reply = nextMessage(ws2);
    ws2.send(Buffer.from([7]));
    const { data } = await reply;
    expect(data).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(data as unknown as ArrayBuffer)]).toEqual([7]);
    ws2.close();
  });

  it('streaming delivers fragments as they arrive', async () => {
    const { server, port } = await start({ streaming: true });
    const pieces: Array<[number, boolean]> = [];
    const done = new Promise<void>((resolve) =>
      server.once('connection', (ws) =>
        ws.on('fragment', (data, _isBinary, fin) => {
          pieces.push([data.length, fin]);
          if (fin) resolve();
        }),
      ),
    );
    const ws = await connect(`ws://127.0.0.1:${port}`);
    ws.send(Buffer.alloc(10), { fin: false });
    ws.send(Buffer.alloc(20), { fin: false });
    ws.send(Buffer.alloc(5), { fin: true });
    await done;
    expect(pieces).toEqual([
      [10, false],
      [20, false],
      [5, true],
    ]);
    ws.close();
  });
});

describe('closing', () => {
  it('client closes: code and reason reach the server, clean on both sides', async () => {
    const { server, port } = await start();
    const serverSide = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
    const ws = await connect(`ws://127.0.0.1:${port}`);
    const peerClosed = closed(await serverSide);
    const clientClosed = closed(ws);
    ws.close(4001, 'done here');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    expect(await peerClosed).toEqual({ code: 4001, reason: 'done here', wasClean: true });
    expect(await clientClosed).toMatchObject({ code: 4001, wasClean: true });
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  it('server closes; a close without a code is seen as 1005', async () => {
    const { server, port } = await start();
    server.once('connection', (ws) => ws.close());
    const ws = await connect(`ws://127.0.0.1:${port}`);
    expect(await closed(ws)).toEqual({ code: 1005, reason: '', wasClean: true });
  });

  it('terminate() and a dropped TCP connection are 1006, not clean', async () => {
    const { server, port } = await start();
    const serverSide = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
    const ws = await connect(`ws://127.0.0.1:${port}`);
    const peerClosed = closed(await serverSide);
    ws.terminate();
    expect(await peerClosed).toMatchObject({ code: 1006, wasClean: false });
    const serverSide2 = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
    const raw = await RawClient.open(port);
    raw.send(frame(0x1, 'hi'));
    const peer2 = await serverSide2;
    const peer2Closed = closed(peer2);
    raw.socket.destroy();
    expect(await peer2Closed).toMatchObject({ code: 1006, wasClean: false });
  });

  it('a peer that never answers the close is dropped after closeTimeout', async () => {
    const { server, port } = await start({ closeTimeout: 300 });
    const serverSide = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
    const raw = await RawClient.open(port);
    const peer = await serverSide;
    const started = Date.now();
    const peerClosed = closed(peer);
    peer.close(1000);
    expect(await peerClosed).toMatchObject({ code: 1006, wasClean: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect((await raw.next(0x8)).payload.readUInt16BE(0)).toBe(1000);
  });

  it('server.close() closes every client with 1001 and resolves when they are gone', async () => {
    const { server, port } = await start();
    const clients = await Promise.all([1, 2, 3].map(() => connect(`ws://127.0.0.1:${port}`)));
    const codes = Promise.all(clients.map((ws) => closed(ws)));
    await server.close();
    expect((await codes).map((c) => c.code)).toEqual([1001, 1001, 1001]);
    expect(server.clients.size).toBe(0);
    servers.length = 0;
  });

  it('close() validates its code and reason', async () => {
    const { port } = await start();
    const ws = await connect(`ws://127.0.0.1:${port}`);
    for (const code of [999, 1004, 1005, 1006, 1015, 5000]) expect(() => ws.close(code)).toThrow(RangeError);
    expect(() => ws.close(1000, 'x'.repeat(124))).toThrow(RangeError);
    ws.close(1000, 'x'.repeat(123));
    expect((await closed(ws)).code).toBe(1000);
  });
});

describe('handshake failures', () => {
  it('connect() rejects with the status of a refused handshake', async () => {
    const { port } = await start({ verifyClient: () => false });
    const error = await connect(`ws://127.0.0.1:${port}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).status).toBe(403);
  });

  it('a handshake timeout and an AbortSignal reject', async () => {
    const { createServer } = await import('node:net');
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const port = (silent.address() as { port: number }).port;
    await expect(connect(`ws://127.0.0.1:${port}`, { handshakeTimeout: 200 })).rejects.toThrow(/timed out/);
    const controller = new AbortController();
    const pending = connect(`ws://127.0.0.1:${port}`, { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toThrow(/aborted/);
    silent.close();
  });
});

describe('browser-style surface', () => {
  it('onopen, onmessage with strings for text, addEventListener once, onclose with a CloseEvent', async () => {
    const { port } = await start();
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    const events: string[] = [];
    await new Promise<void>((resolve) => {
      ws.onopen = () => {
        events.push('open');
        ws.send('text');
      };
      ws.addEventListener('message', (event: { data: unknown }) => events.push(`once:${String(event.data)}`), { once: true });
      ws.onmessage = (event) => {
        events.push(`message:${typeof event.data}:${String(event.data)}`);
        ws.close(1000, 'bye');
      };
      ws.onclose = (event) => {
        events.push(`close:${event.code}:${event.reason}:${event.wasClean}`);
        resolve();
      };
    });
    expect(events).toEqual(['open', 'once:text', 'message:string:text', 'close:1000::true']);
  });
});
