// The server's opening handshake (RFC 6455 §4.2) over raw TCP: requests typed by hand, every
// refusal with its status, the hooks, subprotocols, bytes pipelined after the request, and the
// three ways to run a server (own port, attached to an http server, noServer + handleUpgrade).
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connect, WebSocketServer, type VerifyInfo, type WebSocket } from '../../src/index.js';
import type { ServerRequest } from '../../src/node/server.js';
import { useCleanup } from '../helpers/cleanup.js';
import { acceptFor, closePayload, frame, FrameReader, OP, rawRequest, RawClient, readHead, upgradeRequest } from '../helpers/raw.js';
import { nextConnection, startEchoServer, startHttpServer, startServer } from '../helpers/server.js';
import { closed, delay, nextMessage, once, waitFor } from '../helpers/wait.js';

const defer = useCleanup();

describe('handshake over raw TCP', () => {
  it('answers 101 with the Sec-WebSocket-Accept of RFC 6455 §1.3 for the key sent', async () => {
    const { port } = await startEchoServer(defer);
    // The example key of §1.3, whose accept value the RFC gives.
    const request = upgradeRequest(port, { headers: { 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
    const res = await rawRequest(port, request);
    expect(res.status).toBe(101);
    expect(res.header('sec-websocket-accept')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(res.header('upgrade')?.toLowerCase()).toBe('websocket');
    expect(res.header('connection')?.toLowerCase()).toBe('upgrade');
    expect(res.header('sec-websocket-protocol')).toBeUndefined();
  });

  it('a raw client can then exchange frames (echo)', async () => {
    const { port } = await startEchoServer(defer);
    const raw = await RawClient.open(port, {}, defer);
    raw.write(frame(OP.text, 'hello'));
    const reply = await raw.next(OP.text);
    expect(reply.payload.toString()).toBe('hello');
    expect(reply.masked).toBe(false); // servers never mask (§5.1)
    expect(reply.fin).toBe(true);
  });

  const refusals: Array<[string, (port: number) => string, number]> = [
    ['POST', (port) => upgradeRequest(port, { method: 'POST' }), 405],
    ['HTTP/1.0', (port) => upgradeRequest(port, { version: '1.0' }), 400],
    ['no Upgrade header', (port) => upgradeRequest(port, { headers: { Upgrade: null } }), 400],
    ['Upgrade: h2c', (port) => upgradeRequest(port, { headers: { Upgrade: 'h2c' } }), 400],
    ['Connection without the upgrade token', (port) => upgradeRequest(port, { headers: { Connection: 'keep-alive' } }), 400],
    ['a key too short', (port) => upgradeRequest(port, { headers: { 'Sec-WebSocket-Key': 'c2hvcnQ=' } }), 400],
    ['a key that is not base64', (port) => upgradeRequest(port, { headers: { 'Sec-WebSocket-Key': '!!!!!!!!!!!!!!!!!!!!!!==' } }), 400],
    ['a key of 17 bytes', (port) => upgradeRequest(port, { headers: { 'Sec-WebSocket-Key': Buffer.alloc(17, 1).toString('base64') } }), 400],
    ['no key', (port) => upgradeRequest(port, { headers: { 'Sec-WebSocket-Key': null } }), 400],
    ['no version', (port) => upgradeRequest(port, { headers: { 'Sec-WebSocket-Version': null } }), 400],
  ];
  for (const [name, request, status] of refusals) {
    it(`${name} → ${status}, and the connection is closed`, async () => {
      const { server, port } = await startEchoServer(defer);
      let connections = 0;
      server.on('connection', () => connections++);
      const res = await rawRequest(port, request(port));
      expect(res.status).toBe(status);
      expect(res.closedByServer).toBe(true);
      expect(res.header('sec-websocket-accept')).toBeUndefined();
      expect(connections).toBe(0);
      if (status === 405) expect(res.header('allow')).toBe('GET');
    });
  }

  it('version 8 → 426 with Sec-WebSocket-Version: 13 (§4.4)', async () => {
    const { port } = await startEchoServer(defer);
    const res = await rawRequest(port, upgradeRequest(port, { headers: { 'Sec-WebSocket-Version': '8' } }));
    expect(res.status).toBe(426);
    expect(res.header('sec-websocket-version')).toBe('13');
  });

  it.each([
    ['Connection: keep-alive, Upgrade', { Connection: 'keep-alive, Upgrade' }],
    ['Upgrade: WebSocket', { Upgrade: 'WebSocket' }],
    ['Connection: upgrade (lower case)', { Connection: 'upgrade' }],
    ['Upgrade: websocket, foo/1', { Upgrade: 'websocket, foo/1' }],
  ])('token lists and case: %s is accepted', async (_name, headers) => {
    const { port } = await startEchoServer(defer);
    const res = await rawRequest(port, upgradeRequest(port, { headers }));
    expect(res.status).toBe(101);
  });

  it('a plain GET without Upgrade to a standalone server → 426', async () => {
    const { port } = await startEchoServer(defer);
    const res = await rawRequest(port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    expect(res.status).toBe(426);
    expect(res.header('upgrade')).toBe('websocket');
    expect(res.header('sec-websocket-version')).toBe('13');
  });

  it('the wrong path → 404; the right one (query string ignored) → 101', async () => {
    const { port } = await startEchoServer(defer, { path: '/ws' });
    expect((await rawRequest(port, upgradeRequest(port, { path: '/other' }))).status).toBe(404);
    expect((await rawRequest(port, upgradeRequest(port, { path: '/ws/more' }))).status).toBe(404);
    expect((await rawRequest(port, upgradeRequest(port, { path: '/ws?token=1' }))).status).toBe(101);
  });

  it('bytes written together with the request (a masked frame after \\r\\n\\r\\n) are received, not lost', async () => {
    const { server, port } = await startServer(defer);
    // Listen synchronously in 'connection', as ws users do: the head is parsed right after it.
    const got = new Promise<{ data: Buffer; isBinary: boolean }>((resolve) =>
      server.once('connection', (ws) => ws.once('message', (data, isBinary) => resolve({ data, isBinary }))),
    );
    const raw = await RawClient.open(port, { after: Buffer.concat([frame(OP.text, 'in the head'), frame(OP.binary, Buffer.from([1, 2, 3]))]) }, defer);
    const first = await got;
    expect(first.data.toString()).toBe('in the head');
    expect(first.isBinary).toBe(false);
    expect(raw.response).toMatch(/^HTTP\/1\.1 101 /);
  });

  it('a listener added after awaiting the connection gets the message in the head and the ones after', async () => {
    const { server, port } = await startServer(defer);
    const opening = RawClient.open(port, { after: frame(OP.text, 'in the head') }, defer);
    const ws = await nextConnection(server);
    const got: string[] = [];
    ws.on('message', (data) => got.push(data.toString()));
    const raw = await opening;
    raw.write(frame(OP.text, 'after open'));
    await waitFor(() => got.length === 2);
    expect(got).toEqual(['in the head', 'after open']);
  });

  it('frames sent while an async authenticate runs (before the 101) are kept, in order', async () => {
    const { port } = await startEchoServer(defer, { authenticate: () => new Promise((r) => setTimeout(() => r('user'), 150)) });
    const socket = net.connect(port, '127.0.0.1');
    defer(() => socket.destroy());
    socket.write(Buffer.concat([Buffer.from(upgradeRequest(port)), frame(OP.text, 'with the request')]));
    await delay(50);
    socket.write(frame(OP.text, 'during the hook'));
    const { response, head } = await readHead(socket);
    expect(response).toMatch(/^HTTP\/1\.1 101 /);
    const reader = new FrameReader(socket, head);
    await waitFor(() => reader.frames.length >= 2);
    expect(reader.frames.map((f) => f.payload.toString())).toEqual(['with the request', 'during the hook']);
  });

  it('a pipelined message after the request reaches an echo and comes back', async () => {
    const { port } = await startEchoServer(defer);
    const raw = await RawClient.open(port, { after: frame(OP.text, 'pipelined') }, defer);
    expect((await raw.next(OP.text)).payload.toString()).toBe('pipelined');
  });
});

describe('verifyClient', () => {
  async function statusWith(options: ConstructorParameters<typeof WebSocketServer>[0]): Promise<{ status: number; body: string; connected: boolean }> {
    const { server, port } = await startEchoServer(defer, options);
    let connected = false;
    server.on('connection', () => (connected = true));
    const res = await rawRequest(port, upgradeRequest(port));
    return { status: res.status, body: res.body, connected };
  }

  it('sync false → 401, as in ws', async () => {
    expect(await statusWith({ verifyClient: () => false })).toMatchObject({ status: 401, connected: false });
  });

  it('sync true → 101', async () => {
    expect(await statusWith({ verifyClient: () => true })).toMatchObject({ status: 101, connected: true });
  });

  it('a promise of false → 401; of true → 101', async () => {
    expect((await statusWith({ verifyClient: async () => false })).status).toBe(401);
    expect((await statusWith({ verifyClient: () => new Promise((r) => setTimeout(() => r(true), 20)) })).status).toBe(101);
  });

  it('ws-style callback refusing with 401 and a message → that status and body', async () => {
    const result = await statusWith({ verifyClient: (_info: VerifyInfo, cb: (ok: boolean, code?: number, message?: string) => void) => cb(false, 401, 'Who are you') });
    expect(result).toMatchObject({ status: 401, body: 'Who are you', connected: false });
  });

  it('ws-style callback refusing without a code → 401, as in ws', async () => {
    const result = await statusWith({ verifyClient: (_info: VerifyInfo, cb: (ok: boolean) => void) => cb(false) });
    expect(result).toMatchObject({ status: 401, connected: false });
  });

  it('ws-style callback accepting → 101', async () => {
    const result = await statusWith({ verifyClient: (_info: VerifyInfo, cb: (ok: boolean) => void) => setTimeout(() => cb(true), 10) });
    expect(result.status).toBe(101);
  });

  it('gets origin, secure and req', async () => {
    let seen: VerifyInfo | undefined;
    const { port } = await startEchoServer(defer, { verifyClient: (info: VerifyInfo) => ((seen = info), true) });
    const ws = await connect(`ws://127.0.0.1:${port}/x?y=1`, { origin: 'https://example.com' });
    defer(() => ws.terminate());
    expect(seen?.origin).toBe('https://example.com');
    expect(seen?.secure).toBe(false);
    expect(seen?.req.url).toBe('/x?y=1');
  });
});

describe('authenticate', () => {
  it('false → 401', async () => {
    const { port } = await startEchoServer(defer, { authenticate: () => false });
    expect((await rawRequest(port, upgradeRequest(port))).status).toBe(401);
  });

  it('throwing {status: 403} → 403', async () => {
    const { port } = await startEchoServer(defer, {
      authenticate: () => {
        throw Object.assign(new Error('Banned'), { status: 403 });
      },
    });
    const res = await rawRequest(port, upgradeRequest(port));
    expect(res.status).toBe(403);
    expect(res.body).toBe('Banned');
  });

  it('throwing a plain error → 500 and an upgradeError event with the error and request', async () => {
    const { server, port } = await startEchoServer(defer, {
      authenticate: async () => {
        throw new Error('database down');
      },
    });
    const event = once<[Error, http.IncomingMessage]>(server, 'upgradeError');
    const res = await rawRequest(port, upgradeRequest(port, { path: '/secret' }));
    expect(res.status).toBe(500);
    expect(res.body).not.toContain('database down'); // internals stay on the server
    const [error, req] = await event;
    expect(error.message).toBe('database down');
    expect(req.url).toBe('/secret');
  });

  it('success → 101 and ws.user holds what it returned', async () => {
    const { server, port } = await startEchoServer(defer, {
      authenticate: async (req) => ({ name: req.headers['x-user'] }),
    });
    const conn = nextConnection(server);
    const ws = await connect(`ws://127.0.0.1:${port}`, { headers: { 'X-User': 'ada' } });
    defer(() => ws.terminate());
    expect((await conn).user).toEqual({ name: 'ada' });
  });

  it('verifyClient runs first: its refusal wins over authenticate', async () => {
    let authenticated = false;
    const { port } = await startEchoServer(defer, { verifyClient: () => false, authenticate: () => (authenticated = true) });
    expect((await rawRequest(port, upgradeRequest(port))).status).toBe(401);
    expect(authenticated).toBe(false);
  });
});

describe('subprotocols', () => {
  it('handleProtocols picks one of those offered; both sides agree on it', async () => {
    let offered: string[] = [];
    const { server, port } = await startEchoServer(defer, {
      handleProtocols: (protocols) => ((offered = [...protocols]), protocols.has('b') ? 'b' : false),
    });
    const conn = nextConnection(server);
    const ws = await connect(`ws://127.0.0.1:${port}`, { protocols: ['a', 'b', 'c'] });
    defer(() => ws.terminate());
    expect(offered).toEqual(['a', 'b', 'c']);
    expect(ws.protocol).toBe('b');
    expect((await conn).protocol).toBe('b');
  });

  it('by default the first offered is picked (raw: the header in the 101)', async () => {
    const { port } = await startEchoServer(defer);
    const res = await rawRequest(port, upgradeRequest(port, { headers: { 'Sec-WebSocket-Protocol': 'chat.v2, chat.v1' } }));
    expect(res.status).toBe(101);
    expect(res.header('sec-websocket-protocol')).toBe('chat.v2');
  });

  it('handleProtocols returning false → no protocol header, connection still accepted', async () => {
    const { port } = await startEchoServer(defer, { handleProtocols: () => false });
    const res = await rawRequest(port, upgradeRequest(port, { headers: { 'Sec-WebSocket-Protocol': 'x' } }));
    expect(res.status).toBe(101);
    expect(res.header('sec-websocket-protocol')).toBeUndefined();
  });

  it('no offer → no protocol header, and handleProtocols is not asked', async () => {
    let asked = false;
    const { port } = await startEchoServer(defer, { handleProtocols: () => ((asked = true), 'x') });
    const res = await rawRequest(port, upgradeRequest(port));
    expect(res.status).toBe(101);
    expect(res.header('sec-websocket-protocol')).toBeUndefined();
    expect(asked).toBe(false);
  });

  it('an invalid protocol token in the offer → 400', async () => {
    const { port } = await startEchoServer(defer);
    const res = await rawRequest(port, upgradeRequest(port, { headers: { 'Sec-WebSocket-Protocol': 'a b, c' } }));
    expect(res.status).toBe(400);
  });
});

describe('server modes', () => {
  it("emits 'listening' and address() gives the bound port", async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    defer(() => server.close());
    await once(server, 'listening');
    const address = server.address() as AddressInfo;
    expect(address.address).toBe('127.0.0.1');
    expect(address.port).toBeGreaterThan(0);
  });

  it('the constructor callback runs once listening', async () => {
    const ready = new Promise<WebSocketServer>((resolve) => {
      const server: WebSocketServer = new WebSocketServer({ port: 0, host: '127.0.0.1' }, () => resolve(server));
      defer(() => server.close());
    });
    const server = await ready;
    expect((server.address() as AddressInfo).port).toBeGreaterThan(0);
  });

  it('exactly one of port/server/noServer is required', () => {
    expect(() => new WebSocketServer({})).toThrow(TypeError);
    expect(() => new WebSocketServer({ port: 0, noServer: true })).toThrow(TypeError);
  });

  it('noServer: handleUpgrade on your own http server, which routes by path', async () => {
    const wss = new WebSocketServer({ noServer: true });
    defer(() => wss.close({ timeout: 100 }));
    expect(() => wss.address()).toThrow(/noServer/);
    const { server, port } = await startHttpServer(defer, (_req, res) => res.end('plain http'));
    server.on('upgrade', (req, socket, head) => {
      if (req.url !== '/ws') return void socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('message', (data) => ws.send(`echo:${data}`));
        wss.emit('connection', ws, req);
      });
    });
    const ws = await connect(`ws://127.0.0.1:${port}/ws`);
    defer(() => ws.terminate());
    const reply = nextMessage(ws);
    ws.send('hi');
    expect((await reply).data.toString()).toBe('echo:hi');
    expect(wss.clients.size).toBe(1);
    // The http server still answers plain requests.
    expect((await rawRequest(port, `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).body).toBe('plain http');
    expect((await rawRequest(port, upgradeRequest(port, { path: '/other' }))).status).toBe(400);
  });

  it('server: attaches to an existing http server, which keeps serving HTTP', async () => {
    const { server, port } = await startHttpServer(defer, (_req, res) => res.end('ok'));
    const wss = new WebSocketServer({ server, path: '/ws' });
    defer(() => wss.close({ timeout: 100 }));
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
    expect((wss.address() as AddressInfo).port).toBe(port);
    const ws = await connect(`ws://127.0.0.1:${port}/ws`);
    defer(() => ws.terminate());
    const reply = nextMessage(ws);
    ws.send('attached');
    expect((await reply).data.toString()).toBe('attached');
    expect((await rawRequest(port, `GET /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).body).toBe('ok');
    expect((await rawRequest(port, upgradeRequest(port, { path: '/nope' }))).status).toBe(404);
  });

  it('two servers attached to one http server by path each get their own connections', async () => {
    const { server, port } = await startHttpServer(defer);
    const a = new WebSocketServer({ server, path: '/a' });
    const b = new WebSocketServer({ server, path: '/b' });
    defer(() => a.close({ timeout: 100 }));
    defer(() => b.close({ timeout: 100 }));
    a.on('connection', (ws) => ws.send('from a'));
    b.on('connection', (ws) => ws.send('from b'));
    const wa = new (await import('../../src/index.js')).WebSocket(`ws://127.0.0.1:${port}/a`);
    const wb = new (await import('../../src/index.js')).WebSocket(`ws://127.0.0.1:${port}/b`);
    defer(() => wa.terminate());
    defer(() => wb.terminate());
    const [ma, mb] = await Promise.all([nextMessage(wa), nextMessage(wb)]);
    expect(ma.data.toString()).toBe('from a');
    expect(mb.data.toString()).toBe('from b');
  });

  it('server.close() on an attached server leaves the http server listening', async () => {
    const { server, port } = await startHttpServer(defer, (_req, res) => res.end('still'));
    const wss = new WebSocketServer({ server });
    const ws = await connect(`ws://127.0.0.1:${port}`);
    const clientClosed = closed(ws);
    await wss.close();
    expect((await clientClosed).code).toBe(1001);
    expect(server.listening).toBe(true);
    expect((await rawRequest(port, `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).body).toBe('still');
  });

  it('a closed server refuses new upgrades on an attached http server with 503', async () => {
    const { server, port } = await startHttpServer(defer);
    const wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, () => {}));
    await wss.close();
    expect((await rawRequest(port, upgradeRequest(port))).status).toBe(503);
  });
});

describe('a connection is a server-side WebSocket', () => {
  it('exposes url, protocol, readyState OPEN, and the request', async () => {
    const { server, port } = await startServer(defer);
    const conn = new Promise<[WebSocket, ServerRequest]>((resolve) => server.once('connection', (ws, req) => resolve([ws, req])));
    const ws = await connect(`ws://127.0.0.1:${port}/room/1?x=2`, { protocols: 'p1' });
    defer(() => ws.terminate());
    const [sws, req] = await conn;
    expect(sws.url).toBe('/room/1?x=2');
    expect(sws.protocol).toBe('p1');
    expect(sws.readyState).toBe(1);
    expect(req.headers['sec-websocket-version']).toBe('13');
    expect(server.clients.has(sws)).toBe(true);
    const serverSideClosed = closed(sws);
    ws.close(1000);
    await serverSideClosed;
    expect(server.clients.has(sws)).toBe(false);
  });

  it('a raw close from a client is echoed with the same code and TCP is closed by the server', async () => {
    const { port } = await startEchoServer(defer);
    const raw = await RawClient.open(port, {}, defer);
    raw.write(frame(OP.close, closePayload(4001, 'bye')));
    expect(await raw.closeCode()).toBe(4001);
    await raw.peerClosedTcp();
  });
});

// Sanity check of the helper itself: the accept value is the RFC's.
it('acceptFor computes the §1.3 example', () => {
  expect(acceptFor('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});
