// Every way a connection ends (RFC 6455 §7): close from either side with and without a code,
// terminate, TCP dropped, a peer that never answers the close (close timeout), server shutdown.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connect, WebSocket, type WebSocketServer } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { accept101, closePayload, frame, FrameReader, OP, RawClient, startRawServer } from '../helpers/raw.js';
import { nextConnection, startServer } from '../helpers/server.js';
import { closed, delay, once, waitFor } from '../helpers/wait.js';

const defer = useCleanup();

async function pair(options: Parameters<typeof startServer>[1] = {}): Promise<{ server: WebSocketServer; client: WebSocket; peer: WebSocket; url: string }> {
  const { server, url } = await startServer(defer, options);
  const peerP = nextConnection(server);
  const client = await connect(url);
  defer(() => client.terminate());
  return { server, client, peer: await peerP, url };
}

describe('close handshake', () => {
  it('client closes: code and reason reach the server; wasClean on both sides', async () => {
    const { client, peer } = await pair();
    const [c, p] = [closed(client), closed(peer)];
    client.close(4321, 'client says bye ✓');
    expect(await p).toEqual({ code: 4321, reason: 'client says bye ✓', wasClean: true });
    // The server echoes the code (§5.5.1); the client reports what it received.
    expect(await c).toEqual({ code: 4321, reason: '', wasClean: true });
  });

  it('server closes: code and reason reach the client; wasClean on both sides', async () => {
    const { client, peer } = await pair();
    const [c, p] = [closed(client), closed(peer)];
    peer.close(1001, 'going away');
    expect(await c).toEqual({ code: 1001, reason: 'going away', wasClean: true });
    expect(await p).toEqual({ code: 1001, reason: '', wasClean: true });
  });

  it('close() with no code: the peer sees 1005 (§7.1.5), so does the closer', async () => {
    const { client, peer } = await pair();
    const [c, p] = [closed(client), closed(peer)];
    client.close();
    expect(await p).toEqual({ code: 1005, reason: '', wasClean: true });
    expect(await c).toEqual({ code: 1005, reason: '', wasClean: true });
  });

  it('the close frame on the wire: no code → empty payload; a code → code + reason', async () => {
    const { server, port } = await startServer(defer);
    server.on('connection', (ws) => ws.on('message', (data) => (data.toString() === 'none' ? ws.close() : ws.close(3003, 'why'))));
    const a = await RawClient.open(port, {}, defer);
    a.write(frame(OP.text, 'none'));
    expect((await a.next(OP.close)).payload.length).toBe(0);
    const b = await RawClient.open(port, {}, defer);
    b.write(frame(OP.text, 'code'));
    const close = await b.next(OP.close);
    expect(close.payload.readUInt16BE(0)).toBe(3003);
    expect(close.payload.subarray(2).toString()).toBe('why');
  });

  it('both sides close at once: each sees the other\'s code, both clean', async () => {
    const { client, peer } = await pair();
    const [c, p] = [closed(client), closed(peer)];
    client.close(4001, 'c');
    peer.close(4002, 's');
    const [rc, rp] = await Promise.all([c, p]);
    expect(rc).toMatchObject({ code: 4002, wasClean: true });
    expect(rp).toMatchObject({ code: 4001, wasClean: true });
  });

  it('close() twice sends one close frame; close() after CLOSED is a no-op', async () => {
    const { port, server } = await startServer(defer);
    server.on('connection', (ws) => {
      ws.close(1000);
      ws.close(1001);
    });
    const raw = await RawClient.open(port, {}, defer);
    await delay(50);
    expect(raw.frames.filter((f) => f.opcode === OP.close).length).toBe(1);
    expect(await raw.closeCode()).toBe(1000);
  });

  it('close() rejects codes and reasons an endpoint may not send', async () => {
    const { client } = await pair();
    for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5]) expect(() => client.close(code)).toThrow(RangeError);
    expect(() => client.close(1000, 'x'.repeat(124))).toThrow(RangeError);
    expect(() => client.close(1000, 'é'.repeat(62))).toThrow(RangeError); // 124 bytes
    expect(() => client.close(undefined, 'reason without code')).toThrow(TypeError);
    expect(client.readyState).toBe(WebSocket.OPEN);
    const done = closed(client);
    client.close(1000, 'x'.repeat(123));
    expect((await done).wasClean).toBe(true);
  });

  it('messages sent before close() arrive before it; none after', async () => {
    const { client, peer } = await pair();
    const got: string[] = [];
    peer.on('message', (data) => got.push(data.toString()));
    const p = closed(peer);
    client.send('1');
    client.send('2');
    client.close(1000);
    expect(client.send('3')).toBe(false);
    await p;
    expect(got).toEqual(['1', '2']);
  });

  it('the server still delivers messages that arrive while it is closing (§7.1.2)', async () => {
    const { client, peer } = await pair();
    const got: string[] = [];
    client.on('message', (data) => got.push(data.toString()));
    peer.on('message', () => {});
    const c = closed(client);
    peer.send('before close');
    peer.close(1000);
    await c;
    expect(got).toEqual(['before close']);
  });
});

describe('abnormal closure', () => {
  it('terminate(): the peer sees 1006, wasClean false; so does the terminator', async () => {
    const { client, peer } = await pair();
    const [c, p] = [closed(client), closed(peer)];
    client.terminate();
    expect(client.readyState).toBe(WebSocket.CLOSING);
    expect(await p).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(await c).toMatchObject({ code: 1006, wasClean: false });
    expect(client.readyState).toBe(WebSocket.CLOSED);
  });

  it('terminate() from the server side', async () => {
    const { client, peer } = await pair();
    const c = closed(client);
    peer.terminate();
    expect(await c).toEqual({ code: 1006, reason: '', wasClean: false });
  });

  it('TCP dropped abruptly by a client → the server reports 1006', async () => {
    const { server, port } = await startServer(defer);
    const conn = nextConnection(server);
    const raw = await RawClient.open(port, {}, defer);
    const p = closed(await conn);
    raw.socket.resetAndDestroy();
    expect(await p).toEqual({ code: 1006, reason: '', wasClean: false });
    await waitFor(() => server.clients.size === 0);
  });

  it('TCP dropped by a server (FIN, no close frame) → our client reports 1006', async () => {
    const { port } = await startRawServer(defer, (socket, request) => {
      socket.write(accept101(request));
      setTimeout(() => socket.end(), 20);
    });
    const ws = await connect(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    expect(await closed(ws)).toEqual({ code: 1006, reason: '', wasClean: false });
  });

  it('TCP reset by a server mid-message → our client reports 1006', async () => {
    const { port } = await startRawServer(defer, (socket, request) => {
      socket.write(accept101(request));
      socket.write(frame(OP.binary, Buffer.alloc(1000), { mask: false }).subarray(0, 200));
      setTimeout(() => socket.resetAndDestroy(), 20);
    });
    const ws = await connect(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    let messages = 0;
    ws.on('message', () => messages++);
    expect(await closed(ws)).toMatchObject({ code: 1006, wasClean: false });
    expect(messages).toBe(0);
  });
});

describe('close timeout', () => {
  it('server closes, the client never answers: TCP destroyed after closeTimeout, 1006', async () => {
    const { server, port } = await startServer(defer, { closeTimeout: 200 });
    const conn = nextConnection(server);
    const raw = await RawClient.open(port, {}, defer); // a peer that ignores everything
    const peer = await conn;
    const p = closed(peer, 3000);
    const started = Date.now();
    peer.close(1000, 'bye');
    expect(await raw.closeCode()).toBe(1000);
    expect(await p).toEqual({ code: 1006, reason: 'Close timeout', wasClean: false });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(5000);
    await raw.closed; // the server really dropped the socket
  });

  it('client closes, the server never answers: the client gives up after closeTimeout, 1006', async () => {
    const { port } = await startRawServer(defer, (socket, request) => {
      socket.write(accept101(request));
      // Reads the close frame and says nothing, keeps TCP open.
    });
    const ws = await connect(`ws://127.0.0.1:${port}`, { closeTimeout: 200, perMessageDeflate: false });
    const c = closed(ws, 3000);
    const started = Date.now();
    ws.close(1000);
    expect(await c).toEqual({ code: 1006, reason: 'Close timeout', wasClean: false });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(5000);
  });

  it('the server answers the close but never closes TCP: the client closes it after closeTimeout, clean', async () => {
    let serverSocket!: Socket;
    const { port } = await startRawServer(defer, (socket, request) => {
      serverSocket = socket;
      socket.write(accept101(request));
      const reader = new FrameReader(socket);
      reader.next(OP.close).then(() => socket.write(frame(OP.close, closePayload(1000), { mask: false })), () => {});
    });
    const ws = await connect(`ws://127.0.0.1:${port}`, { closeTimeout: 200, perMessageDeflate: false });
    const c = closed(ws, 3000);
    ws.close(1000);
    expect(await c).toEqual({ code: 1000, reason: '', wasClean: true });
    await waitFor(() => serverSocket.destroyed || serverSocket.readableEnded, 3000, 'server socket closed by the client');
  });

  it('a client answering the close: the server closes TCP first (§7.1.1)', async () => {
    const { server, port } = await startServer(defer);
    const conn = nextConnection(server);
    const raw = await RawClient.open(port, {}, defer);
    const peer = await conn;
    const p = closed(peer);
    peer.close(1000);
    await raw.next(OP.close);
    raw.write(frame(OP.close, closePayload(1000)));
    await raw.peerClosedTcp(1000); // well before the 30 s default close timeout
    expect(await p).toEqual({ code: 1000, reason: '', wasClean: true });
  });
});

describe('server.close()', () => {
  it('closes every client with 1001, resolves, and stops listening', async () => {
    const { server, url } = await startServer(defer);
    const clients = await Promise.all([connect(url), connect(url), connect(url)]);
    for (const c of clients) defer(() => c.terminate());
    await waitFor(() => server.clients.size === 3);
    const results = clients.map((c) => closed(c));
    const serverClosed = once(server, 'close');
    await server.close();
    for (const r of await Promise.all(results)) expect(r).toEqual({ code: 1001, reason: '', wasClean: true });
    await serverClosed;
    expect(server.clients.size).toBe(0);
    await expect(connect(url)).rejects.toThrow();
  });

  it('with a code and reason', async () => {
    const { server, url } = await startServer(defer);
    const client = await connect(url);
    const c = closed(client);
    await server.close({ code: 1012, reason: 'restarting' });
    expect(await c).toEqual({ code: 1012, reason: 'restarting', wasClean: true });
  });

  it('clients that never answer are terminated after the timeout; close() still resolves', async () => {
    const { server, port } = await startServer(defer);
    const raw = await RawClient.open(port, {}, defer);
    await waitFor(() => server.clients.size === 1);
    const started = Date.now();
    let callbackRan = false;
    await server.close({ timeout: 200 }, () => (callbackRan = true));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(5000);
    expect(await raw.closeCode()).toBe(1001);
    await raw.closed;
    await waitFor(() => callbackRan);
  });

  it('resolves at once with no clients, and new upgrades are refused while closing', async () => {
    const { server, url } = await startServer(defer);
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(connect(url)).rejects.toThrow();
  });
});

describe('closing while connecting', () => {
  it('close() during the handshake: connect() rejects, close 1006', async () => {
    const { port } = await startRawServer(defer, () => {}); // never answers
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const errors: Error[] = [];
    ws.on('error', (e) => errors.push(e));
    const c = closed(ws);
    await delay(20);
    ws.close();
    expect(await c).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(errors[0]?.message).toMatch(/closed before the connection was established/);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  it('terminate() during the handshake too', async () => {
    const { port } = await startRawServer(defer, () => {});
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    ws.on('error', () => {});
    const c = closed(ws);
    ws.terminate();
    expect((await c).code).toBe(1006);
  });
});
