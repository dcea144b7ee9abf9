/**
 * Heartbeat (server and client) and idle timeout, against hand-written peers that do or do not
 * answer pings and do or do not send messages.
 */
import { describe, expect, it } from 'vitest';
import { connect, type WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { closeFrame, OP, RawClient, RawServer } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import { delay, next, SLACK } from '../helpers/wait.js';

const defer = useCleanup();

const INTERVAL = 150;
const TIMEOUT = 100;

describe('server heartbeat', () => {
  it('terminates a peer that stops answering pings within interval + timeout; the app sees 1006 with a heartbeat reason', async () => {
    const { server, port } = await startServer(defer, { heartbeat: { interval: INTERVAL, timeout: TIMEOUT } });
    const connection = next<[WebSocket]>(server, 'connection');
    let opened = 0; // taken when the heartbeat starts, not when this test next runs
    server.once('connection', () => (opened = performance.now()));
    const peer = await RawClient.connect(port, { autoPong: false });
    defer(() => peer.destroy());
    const [ws] = await connection;
    const [code, reason, wasClean] = await next<[number, Buffer, boolean]>(ws, 'close', 3000);
    const elapsed = performance.now() - opened;

    expect(code).toBe(1006);
    expect(wasClean).toBe(false);
    expect(reason.toString()).toMatch(/heartbeat/i);
    expect(reason.toString()).toContain(`${TIMEOUT} ms`);
    expect(elapsed).toBeGreaterThanOrEqual(INTERVAL + TIMEOUT - 5);
    expect(elapsed).toBeLessThan(INTERVAL + TIMEOUT + SLACK);
    // It did ping before giving up, exactly once (the second tick is the verdict), and TCP is gone.
    expect(peer.frames.filter((f) => f.opcode === OP.ping)).toHaveLength(1);
    await peer.closed;
    expect(server.clients.size).toBe(0);
  });

  it('keeps a peer that answers open across several intervals', async () => {
    const { server, port } = await startServer(defer, { heartbeat: { interval: 100, timeout: 500 } });
    const connection = next<[WebSocket]>(server, 'connection');
    const peer = await RawClient.connect(port, { autoPong: true });
    defer(() => peer.destroy());
    const [ws] = await connection;
    let pongs = 0;
    ws.on('pong', () => pongs++);
    let closed = false;
    ws.on('close', () => (closed = true));

    await delay(900);
    expect(closed).toBe(false);
    expect(ws.readyState).toBe(ws.OPEN);
    // A ping every ~100 ms (interval after each pong): more than four, fewer than one per 100 ms.
    const pings = peer.frames.filter((f) => f.opcode === OP.ping).length;
    expect(pings).toBeGreaterThanOrEqual(4);
    expect(pings).toBeLessThanOrEqual(9);
    expect(pongs).toBeGreaterThanOrEqual(pings - 1);

    // Then it stops answering: now it goes.
    peer.autoPong = false;
    const [code, reason] = await next<[number, Buffer]>(ws, 'close', 2000);
    expect(code).toBe(1006);
    expect(reason.toString()).toMatch(/heartbeat/i);
  });
});

describe('client heartbeat', () => {
  it('terminates a server that ignores pings; the app sees 1006 with a heartbeat reason', async () => {
    const raw = await RawServer.start(defer);
    const ws = await connect(raw.url, { heartbeat: { interval: INTERVAL, timeout: TIMEOUT }, perMessageDeflate: false });
    const opened = performance.now();
    const [code, reason, wasClean] = await next<[number, Buffer, boolean]>(ws, 'close', 3000);
    const elapsed = performance.now() - opened;
    expect(code).toBe(1006);
    expect(wasClean).toBe(false);
    expect(reason.toString()).toMatch(/heartbeat/i);
    expect(elapsed).toBeGreaterThanOrEqual(INTERVAL + TIMEOUT - 5);
    expect(elapsed).toBeLessThan(INTERVAL + TIMEOUT + SLACK);
    // The client's pings are masked and reached the server.
    expect(raw.frames.filter((f) => f.opcode === OP.ping)).toHaveLength(1);
  });

  it('stays open with a server that answers', async () => {
    const raw = await RawServer.start(defer);
    raw.autoPong = true;
    const ws = await connect(raw.url, { heartbeat: { interval: 100, timeout: 500 }, perMessageDeflate: false });
    defer(() => ws.terminate());
    let closed = false;
    ws.on('close', () => (closed = true));
    await delay(900);
    expect(closed).toBe(false);
    expect(raw.frames.filter((f) => f.opcode === OP.ping).length).toBeGreaterThanOrEqual(4);
  });
});

describe('idleTimeout', () => {
  const IDLE = 600;

  it('closes a connection with no messages with 1001 (between idleTimeout and 1.5 × idleTimeout)', async () => {
    const { server, port } = await startServer(defer, { idleTimeout: IDLE });
    const connection = next<[WebSocket]>(server, 'connection');
    let opened = 0;
    server.once('connection', () => (opened = performance.now()));
    const peer = await RawClient.connect(port);
    defer(() => peer.destroy());
    const [ws] = await connection;
    const close = await peer.next(OP.close, 2000);
    const elapsed = performance.now() - opened;
    expect(close.payload.readUInt16BE(0)).toBe(1001);
    expect(close.payload.subarray(2).toString()).toMatch(/idle/i);
    expect(elapsed).toBeGreaterThanOrEqual(IDLE - 5);
    expect(elapsed).toBeLessThan(IDLE * 1.5 + SLACK);
    // The peer answers the close: the handshake completes and the app sees 1001.
    const closed = next<[number, Buffer, boolean]>(ws, 'close');
    peer.send(closeFrame(1001));
    const [code, , wasClean] = await closed;
    expect(code).toBe(1001);
    expect(wasClean).toBe(true);
  });

  it('does not close a connection that keeps chatting', async () => {
    const { server, port } = await startServer(defer, { idleTimeout: IDLE });
    const connection = next<[WebSocket]>(server, 'connection');
    const peer = await RawClient.connect(port);
    defer(() => peer.destroy());
    const [ws] = await connection;
    let received = 0;
    ws.on('message', () => received++);
    for (let i = 0; i < 12; i++) {
      peer.sendText(`tick ${i}`);
      await delay(IDLE / 6);
    }
    expect(received).toBe(12);
    expect(peer.frames.filter((f) => f.opcode === OP.close)).toHaveLength(0);
    expect(ws.readyState).toBe(ws.OPEN);
  });

  it('counts messages the server sends as activity too', async () => {
    const { server, port } = await startServer(defer, { idleTimeout: IDLE });
    const connection = next<[WebSocket]>(server, 'connection');
    const peer = await RawClient.connect(port);
    defer(() => peer.destroy());
    const [ws] = await connection;
    for (let i = 0; i < 12; i++) {
      ws.send(`tick ${i}`);
      await delay(IDLE / 6);
    }
    expect(peer.frames.filter((f) => f.opcode === OP.text)).toHaveLength(12);
    expect(peer.frames.filter((f) => f.opcode === OP.close)).toHaveLength(0);
  });
});
