/**
 * Authentication before the upgrade (`authenticate`), the examples under examples/auth/, and the
 * policy close after open.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connect, HandshakeError, type WebSocket, type WebSocketServer } from '../../src/index.js';
import * as bearer from '../../examples/auth/bearer.js';
import * as query from '../../examples/auth/query.js';
import * as subprotocol from '../../examples/auth/subprotocol.js';
import { issueToken } from '../../examples/auth/tokens.js';
import { useCleanup } from '../helpers/cleanup.js';
import { closeFrame, OP, RawClient } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import { delay, next, SLACK } from '../helpers/wait.js';

const defer = useCleanup();

/** Counts 'connection' events, which a refused handshake must never produce. */
function countConnections(server: WebSocketServer): { count: number } {
  const counter = { count: 0 };
  server.on('connection', () => counter.count++);
  return counter;
}

/** A raw handshake that must be refused with `status`; the socket is closed by the server after it. */
async function expectRefused(port: number, status: number, options: Parameters<typeof RawClient.connect>[1] = {}): Promise<RawClient> {
  const peer = await RawClient.connect(port, options);
  defer(() => peer.destroy());
  expect(peer.status).toBe(status);
  await peer.closed;
  return peer;
}

describe('authenticate(req)', () => {
  it('attaches its result as ws.user (sync and async)', async () => {
    const { server, port, url } = await startServer(defer, {
      authenticate: async (req) => {
        await delay(10);
        return { name: req.headers['x-user'], at: 'async' };
      },
    });
    const connection = next<[WebSocket]>(server, 'connection');
    const client = await connect(url, { headers: { 'X-User': 'alice' } });
    defer(() => client.terminate());
    const [ws] = await connection;
    expect(ws.user).toEqual({ name: 'alice', at: 'async' });
    expect(port).toBeGreaterThan(0);
  });

  it('false (or null, or undefined) → 401, and no connection', async () => {
    for (const verdict of [false, null, undefined]) {
      const { server, port } = await startServer(defer, { authenticate: () => verdict });
      const counter = countConnections(server);
      await expectRefused(port, 401);
      expect(counter.count).toBe(0);
      expect(server.clients.size).toBe(0);
    }
  });

  it('throwing an error with status 403 → 403 (and 401 → 401), and no connection', async () => {
    const { server, port } = await startServer(defer, {
      authenticate: (req) => {
        if (req.url === '/401') throw Object.assign(new Error('Who are you?'), { status: 401 });
        throw { status: 403 };
      },
    });
    const counter = countConnections(server);
    let upgradeErrors = 0;
    server.on('upgradeError', () => upgradeErrors++);
    await expectRefused(port, 403);
    const refused = await expectRefused(port, 401, { path: '/401' });
    expect(refused.body).toContain('Who are you?');
    expect(counter.count).toBe(0);
    expect(upgradeErrors).toBe(0);
    // The client's view: a HandshakeError carrying the status.
    const error = await connect(`ws://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).status).toBe(403);
  });

  it('an unexpected error → 500 and an upgradeError event carrying it, and no connection', async () => {
    const boom = new Error('database down');
    const { server, port } = await startServer(defer, {
      authenticate: async () => {
        throw boom;
      },
    });
    const counter = countConnections(server);
    const upgradeError = next<[unknown, { url?: string }]>(server, 'upgradeError');
    await expectRefused(port, 500, { path: '/x' });
    const [error, req] = await upgradeError;
    expect(error).toBe(boom);
    expect(req.url).toBe('/x');
    expect(counter.count).toBe(0);
    expect(server.stats().handshakesRefused).toEqual({ 500: 1 });
  });

  it('throwing a non-object (null) is also a 500 whose upgradeError carries what was thrown', async () => {
    const { server, port } = await startServer(defer, {
      authenticate: () => {
        throw null;
      },
    });
    const upgradeError = next<[unknown]>(server, 'upgradeError');
    await expectRefused(port, 500);
    const [error] = await upgradeError;
    expect(error).toBe(null);
  });

  it('a hook that never settles is cut off by handshakeTimeout, and no connection', async () => {
    const { server, port } = await startServer(defer, { handshakeTimeout: 200, authenticate: () => new Promise(() => {}) });
    const counter = countConnections(server);
    const started = performance.now();
    const error = await RawClient.connect(port).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/closed before a response/);
    expect(performance.now() - started).toBeLessThan(200 + SLACK);
    expect(counter.count).toBe(0);
  });

  it('a client that leaves while the hook runs never becomes a connection', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { server, port } = await startServer(defer, { authenticate: () => gate.then(() => ({ id: 1 })) });
    const counter = countConnections(server);
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${Buffer.alloc(16, 1).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await delay(50);
    socket.destroy();
    await delay(20);
    release();
    await delay(100);
    // The server read the client's FIN along with the request: it must not open a connection
    // that nobody will ever read from.
    expect(counter.count).toBe(0);
    expect(server.stats().connections).toBe(0);
    expect(server.clients.size).toBe(0);
  });

  it('after open, ws.close(1008) is the policy close the peer sees', async () => {
    const { server, port } = await startServer(defer, { authenticate: () => ({ role: 'user' }) });
    server.on('connection', (ws) => {
      ws.on('message', (data) => {
        if (data.toString() === 'admin-only' && (ws.user as { role: string }).role !== 'admin') ws.close(1008, 'Forbidden');
      });
    });
    const peer = await RawClient.connect(port);
    defer(() => peer.destroy());
    peer.sendText('admin-only');
    const close = await peer.next(OP.close);
    expect(close.payload.readUInt16BE(0)).toBe(1008);
    expect(close.payload.subarray(2).toString()).toBe('Forbidden');
    peer.send(closeFrame(1008));
    await peer.closed;
  });
});

async function startExample(create: (port: number) => WebSocketServer): Promise<{ server: WebSocketServer; port: number }> {
  const server = create(0);
  defer(() => server.close({ timeout: 100 }));
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

describe('examples/auth/bearer.ts (Authorization: Bearer <token>)', () => {
  it('accepts a valid token and attaches its claims; refuses none (401), a forged one (401), a banned user (403)', async () => {
    const { server, port } = await startExample(bearer.createServer);
    const connections = countConnections(server);
    const ws = await connect(`ws://127.0.0.1:${port}`, { headers: { Authorization: `Bearer ${issueToken({ sub: 'alice', role: 'user' })}` } });
    defer(() => ws.terminate());
    const [hello] = await next<[Buffer]>(ws, 'message');
    expect(hello.toString()).toBe('hello alice');
    expect([...server.clients][0].user).toMatchObject({ sub: 'alice', role: 'user' });

    await expectRefused(port, 401);
    await expectRefused(port, 401, { headers: { Authorization: `Bearer ${issueToken({ sub: 'mallory', role: 'admin' }, 'wrong secret')}` } });
    await expectRefused(port, 401, { headers: { Authorization: `Bearer ${issueToken({ sub: 'old', role: 'user', exp: 1 })}` } });
    await expectRefused(port, 401, { headers: { Authorization: 'Basic YWxpY2U6cHc=' } });
    await expectRefused(port, 403, { headers: { Authorization: `Bearer ${issueToken({ sub: 'bob', role: 'banned' })}` } });
    expect(connections.count).toBe(1);
  });

  it('closes with 1008 when a user asks for what its role does not allow', async () => {
    const { port } = await startExample(bearer.createServer);
    const ws = await connect(`ws://127.0.0.1:${port}`, { headers: { Authorization: `Bearer ${issueToken({ sub: 'alice', role: 'user' })}` } });
    ws.send('admin-only');
    const [code, reason] = await next<[number, Buffer]>(ws, 'close');
    expect(code).toBe(1008);
    expect(reason.toString()).toBe('Forbidden');
  });
});

describe('examples/auth/query.ts (?token=)', () => {
  it('accepts a valid token in the query string and refuses a missing or forged one', async () => {
    const { server, port } = await startExample(query.createServer);
    const connections = countConnections(server);
    const ws = await connect(`ws://127.0.0.1:${port}/ws?token=${issueToken({ sub: 'carol', role: 'user' })}`);
    defer(() => ws.terminate());
    const [hello] = await next<[Buffer]>(ws, 'message');
    expect(hello.toString()).toBe('hello carol');
    await expectRefused(port, 401, { path: '/ws' });
    await expectRefused(port, 401, { path: `/ws?token=${issueToken({ sub: 'carol', role: 'user' }, 'nope')}` });
    await expectRefused(port, 403, { path: `/ws?token=${issueToken({ sub: 'bob', role: 'banned' })}` });
    await expectRefused(port, 404, { path: `/other?token=${issueToken({ sub: 'carol', role: 'user' })}` });
    expect(connections.count).toBe(1);
  });
});

describe('examples/auth/subprotocol.ts (token in Sec-WebSocket-Protocol)', () => {
  it('accepts the token, selects the application protocol (never the token), refuses without a token', async () => {
    const { server, port } = await startExample(subprotocol.createServer);
    const connections = countConnections(server);
    const token = issueToken({ sub: 'dave', role: 'user' });
    // As a browser would: new WebSocket(url, ['chat.v1', 'bearer.<token>']).
    const ws = await connect(`ws://127.0.0.1:${port}`, { protocols: [subprotocol.PROTOCOL, `${subprotocol.TOKEN_PREFIX}${token}`] });
    defer(() => ws.terminate());
    expect(ws.protocol).toBe('chat.v1');
    const [hello] = await next<[Buffer]>(ws, 'message');
    expect(hello.toString()).toBe('hello dave (chat.v1)');

    // On the wire: the 101 names chat.v1 and does not echo the token, whatever the order offered.
    const raw = await RawClient.connect(port, { headers: { 'Sec-WebSocket-Protocol': `bearer.${token}, chat.v1` } });
    defer(() => raw.destroy());
    expect(raw.status).toBe(101);
    expect(raw.headers['sec-websocket-protocol']).toBe('chat.v1');
    expect(JSON.stringify(raw.headers)).not.toContain(token);

    await expectRefused(port, 401, { headers: { 'Sec-WebSocket-Protocol': 'chat.v1' } });
    await expectRefused(port, 401, { headers: { 'Sec-WebSocket-Protocol': `chat.v1, bearer.${issueToken({ sub: 'x', role: 'admin' }, 'forged')}` } });
    await expectRefused(port, 403, { headers: { 'Sec-WebSocket-Protocol': `chat.v1, bearer.${issueToken({ sub: 'bob', role: 'banned' })}` } });
    expect(connections.count).toBe(2);
  });
});
