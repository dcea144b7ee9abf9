/**
 * The standalone server accepting plain TCP connections off its listening handle (raw-accept.ts,
 * raw-connection.ts): no net.Socket per connection unless the application asks for one, and every
 * behaviour of the socket path kept — bytes after the head, refusals, limits, timers, closes.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from '../../src/index.js';
import { fastPathStatus } from '../../src/node/fast-path.js';
import type { ServerRequest } from '../../src/node/server.js';
import { useCleanup } from '../helpers/cleanup.js';
import { closeFrame, frame, OP, rawRequest, RawClient, readHead, serverHandles, upgradeRequest, watchSockets } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import { closed, collect, next, nextMessage, socketClosed, waitFor } from '../helpers/wait.js';

const defer = useCleanup();
const raw = fastPathStatus().enabled && process.env.RFC6455_RAW_ACCEPT !== '0';

describe('raw accept: connections without a net.Socket', () => {
  it.runIf(raw)('constructs no net.Socket on the server for a connection that nobody asks the socket of', async () => {
    const { server, port } = await startServer(defer);
    const watch = watchSockets();
    defer(() => watch.stop());
    const accepted = next<[WebSocket, ServerRequest]>(server, 'connection');
    const client = await RawClient.open(port, {}, defer);
    const [ws] = await accepted;
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    client.send(frame(OP.text, 'one'));
    expect((await client.read())?.payload.toString()).toBe('one');
    expect(watch.serverSide(port)).toHaveLength(0);
    // Asked for, it is made once, over the same handle, and tells the peer's address.
    const socket = (ws as unknown as { _socket: net.Socket })._socket;
    expect(socket).toBeInstanceOf(net.Socket);
    expect((ws as unknown as { _socket: net.Socket })._socket).toBe(socket);
    expect(socket.remoteAddress).toBe('127.0.0.1');
    expect(socket.remotePort).toBe(client.socket.localPort);
    expect(watch.serverSide(port)).toHaveLength(1);
    // Messages still flow after the socket was made, and its close is the WebSocket's.
    client.send(frame(OP.text, 'two'));
    expect((await client.read())?.payload.toString()).toBe('two');
    const done = closed(ws);
    client.send(closeFrame(4000, 'bye'));
    expect(await done).toMatchObject({ code: 4000, reason: 'bye', wasClean: true });
    await client.closed;
    expect(socket.destroyed).toBe(true);
  });

  it('takes frames that came in the same write as the head', async () => {
    const { server, port } = await startServer(defer);
    // They are emitted a turn after 'connection', before the client has even read its 101: the
    // listener goes on in 'connection'.
    let messages: Array<string | Buffer> = [];
    server.on('connection', (ws) => (messages = collect(ws)));
    const client = await RawClient.open(port, { after: Buffer.concat([frame(OP.text, 'early'), frame(OP.binary, Buffer.from([1, 2, 3]))]) }, defer);
    await waitFor(() => messages.length === 2, 5000, 'both early messages');
    expect(messages).toEqual(['early', Buffer.from([1, 2, 3])]);
    client.socket.destroy();
  });

  it('reads a head that comes a byte at a time, and the frames after it', async () => {
    const { server, port } = await startServer(defer);
    const accepted = next<[WebSocket, ServerRequest]>(server, 'connection');
    const socket = net.connect(port, '127.0.0.1');
    defer(() => socket.destroy());
    const bytes = Buffer.concat([Buffer.from(upgradeRequest(port), 'latin1'), frame(OP.text, 'slow')]);
    socket.setNoDelay(true);
    for (const byte of bytes.subarray(0, 40)) {
      socket.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    socket.write(bytes.subarray(40));
    const [ws, req] = await accepted;
    expect(req.headers.upgrade).toBe('websocket');
    expect((await nextMessage(ws)).data.toString()).toBe('slow');
  });

  it('a second HTTP request pipelined after the head is read as frames: 1002, and the close is reported', async () => {
    const { server, port } = await startServer(defer);
    const accepted = next<[WebSocket, ServerRequest]>(server, 'connection');
    const client = await RawClient.open(port, { after: Buffer.from(upgradeRequest(port), 'latin1') }, defer);
    const [ws] = await accepted;
    const done = closed(ws);
    expect(await client.closeCode()).toBe(1002);
    expect((await done).code).toBe(1002);
    await client.closed;
  });

  it('a peer that never reads is terminated after closeTimeout, its close reported and its handle closed', async () => {
    const { server, port } = await startServer(defer, { closeTimeout: 200 });
    const accepted = next<[WebSocket, ServerRequest]>(server, 'connection');
    const socket = net.connect(port, '127.0.0.1');
    defer(() => socket.destroy());
    socket.on('error', () => {});
    socket.write(upgradeRequest(port));
    // Never read: after the 101 the kernel buffers fill and our close frame cannot leave.
    socket.pause();
    const [ws] = await accepted;
    expect(serverHandles(port)).toBe(1);
    const payload = Buffer.alloc(1 << 20);
    for (let i = 0; i < 16; i++) ws.send(payload);
    const done = closed(ws, 5000);
    ws.close(1000, 'stop');
    expect(await done).toMatchObject({ code: 1006, wasClean: false });
    await waitFor(() => serverHandles(port) === 0, 2000, 'the server side closed');
    // A paused socket cannot see the server's FIN: it is behind bytes the client never read.
    socket.resume();
    await socketClosed(socket);
  });

  it('answers a plain request with 426, a broken handshake with its status, an oversized head with 431', async () => {
    const { port } = await startServer(defer);
    const plain = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(plain.status).toBe(426);
    expect(plain.closedByServer).toBe(true);
    expect((await rawRequest(port, upgradeRequest(port, { headers: { 'Sec-WebSocket-Version': '8' } }))).status).toBe(426);
    expect((await rawRequest(port, upgradeRequest(port, { method: 'POST' }))).status).toBe(405);
    expect((await rawRequest(port, upgradeRequest(port, { headers: { 'Sec-WebSocket-Key': 'short' } }))).status).toBe(400);
    expect((await rawRequest(port, 'GET / HTTP/1.1\r\nHost x\r\n\r\n')).status).toBe(400);
    const big = await rawRequest(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(big.status).toBe(431);
    expect(big.closedByServer).toBe(true);
  });

  it('refuses from the hooks with their status, and upgrades after an async verifyClient that read req.socket', async () => {
    let allow = false;
    const { server, port } = await startServer(defer, {
      verifyClient: async (info: { req: ServerRequest }) => {
        expect(info.req.socket.remoteAddress).toBe('127.0.0.1');
        await new Promise((resolve) => setTimeout(resolve, 20));
        return allow;
      },
    });
    expect((await rawRequest(port, upgradeRequest(port))).status).toBe(401);
    allow = true;
    const accepted = next<[WebSocket, ServerRequest]>(server, 'connection');
    const client = await RawClient.open(port, { after: frame(OP.text, 'after hooks') }, defer);
    const [ws] = await accepted;
    expect((await nextMessage(ws)).data.toString()).toBe('after hooks');
    ws.send('back');
    expect((await client.read())?.payload.toString()).toBe('back');
    const done = closed(ws);
    client.send(closeFrame(1000));
    expect((await done).code).toBe(1000);
  });

  it('drops a connection that has not sent its head within handshakeTimeout', async () => {
    const { port } = await startServer(defer, { handshakeTimeout: 150 });
    const socket = net.connect(port, '127.0.0.1');
    defer(() => socket.destroy());
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const response = readHead(socket, 5000).catch((error: Error) => error);
    await socketClosed(socket);
    expect(await response).toBeInstanceOf(Error);
  });

  it('maxConnectionsPerIp counts connections by address without making a socket', async () => {
    const { port } = await startServer(defer, { maxConnectionsPerIp: 1 });
    await RawClient.open(port, {}, defer);
    expect((await rawRequest(port, upgradeRequest(port))).status).toBe(429);
  });

  it('close() closes open connections with 1001 and drops the ones still sending a head', async () => {
    const { server, port } = await startServer(defer);
    const accepted = next<[WebSocket, ServerRequest]>(server, 'connection');
    const client = await RawClient.open(port, {}, defer);
    const [ws] = await accepted;
    const slow = net.connect(port, '127.0.0.1');
    defer(() => slow.destroy());
    slow.on('error', () => {});
    await new Promise((resolve) => slow.once('connect', resolve));
    slow.write('GET / HTTP/1.1\r\n');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const done = closed(ws);
    const closing = server.close();
    expect(await client.closeCode()).toBe(1001);
    client.send(closeFrame(1001));
    expect((await done).code).toBe(1001);
    await socketClosed(slow);
    await closing;
    await waitFor(() => client.isClosed, 5000, 'client closed');
  });

  it('closes the handle on every path: answered, refused, timed out, hung up mid-head, upgraded and closed', async () => {
    const { server, port } = await startServer(defer, {
      handshakeTimeout: 150,
      verifyClient: (info: { req: ServerRequest }) => info.req.url !== '/refused',
    });
    server.on('connection', (ws) => ws.on('message', () => ws.close(1000)));
    await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await rawRequest(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`);
    await rawRequest(port, upgradeRequest(port, { path: '/refused' }));
    const halfHead = net.connect(port, '127.0.0.1');
    halfHead.on('error', () => {});
    halfHead.end('GET / HTTP/1.1\r\nHost: x\r\n');
    const silent = net.connect(port, '127.0.0.1');
    defer(() => silent.destroy());
    silent.on('error', () => {});
    const client = await RawClient.open(port, { after: frame(OP.text, 'bye') }, defer);
    expect(await client.closeCode()).toBe(1000);
    client.send(closeFrame(1000));
    await client.closed;
    await socketClosed(silent);
    await waitFor(() => serverHandles(port) === 0, 2000, 'every server-side handle closed');
  });
});
