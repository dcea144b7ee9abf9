/**
 * Graceful shutdown: server.close({ code, reason, timeout }) and the CLI on SIGTERM/SIGINT.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connect, type WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { closeFrame, OP, RawClient } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import { delay, next, SLACK, waitFor } from '../helpers/wait.js';

const defer = useCleanup();

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function connectRefused(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('server.close({ code, reason, timeout })', () => {
  it('stops accepting, closes every connection with a close handshake, terminates the ones that do not answer after timeout', async () => {
    const TIMEOUT = 1500;
    const { server, port, url } = await startServer(defer);
    const serverSide: Array<{ code: number; reason: string; wasClean: boolean }> = [];
    server.on('connection', (ws) => ws.on('close', (code, reason, wasClean) => serverSide.push({ code, reason: reason.toString(), wasClean })));
    const good = await connect(url);
    const good2 = await connect(url);
    const stubborn = await RawClient.connect(port); // never answers the close
    defer(() => stubborn.destroy());
    const goodClose = next<[number, Buffer, boolean]>(good, 'close');
    const good2Close = next<[number, Buffer, boolean]>(good2, 'close');
    let serverClosed = false;
    server.on('close', () => (serverClosed = true));

    const started = performance.now();
    const closing = server.close({ code: 1001, reason: 'maintenance', timeout: TIMEOUT });
    // No new connections from here on.
    expect(await connectRefused(port)).toBe('ECONNREFUSED');

    for (const closed of [goodClose, good2Close]) {
      const [code, reason, wasClean] = await closed;
      expect(code).toBe(1001);
      expect(reason.toString()).toBe('maintenance');
      expect(wasClean).toBe(true);
    }
    expect(performance.now() - started).toBeLessThan(TIMEOUT);
    const frame = await stubborn.next(OP.close);
    expect(frame.payload.readUInt16BE(0)).toBe(1001);
    expect(frame.payload.subarray(2).toString()).toBe('maintenance');
    await waitFor(() => server.clients.size === 1, 1000, 'the two clean closes');
    expect(serverClosed).toBe(false);

    await closing;
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT - 10);
    expect(elapsed).toBeLessThan(TIMEOUT + SLACK);
    expect(serverClosed).toBe(true);
    expect(server.clients.size).toBe(0);
    await stubborn.closed;
    expect(serverSide.map((s) => s.code).sort()).toEqual([1001, 1001, 1006]);
    expect(serverSide.find((s) => s.code === 1006)!.reason).toMatch(/shutdown timed out/);
    expect(server.stats().closeCodes).toEqual({ 1001: 2, 1006: 1 });
  });

  it('resolves as soon as every peer answered, without waiting for the timeout', async () => {
    const { server, url } = await startServer(defer);
    const clients = await Promise.all(Array.from({ length: 5 }, () => connect(url)));
    const closes = clients.map((c) => next<[number]>(c, 'close'));
    const started = performance.now();
    await server.close({ timeout: 5000 });
    expect(performance.now() - started).toBeLessThan(SLACK);
    expect((await Promise.all(closes)).map(([code]) => code)).toEqual([1001, 1001, 1001, 1001, 1001]);
  });

  it('delivers everything passed to send() before close: 10,000 messages, nothing lost, in order, then 1001', async () => {
    const N = 10_000;
    const { server, url } = await startServer(defer);
    const connection = next<[WebSocket]>(server, 'connection');
    const client = await connect(url, { perMessageDeflate: false });
    const [ws] = await connection;
    const received: number[] = [];
    client.on('message', (data) => received.push(data.readUInt32BE(0)));
    const closed = next<[number, Buffer, boolean]>(client, 'close', 15_000);
    for (let i = 0; i < N; i++) {
      const payload = Buffer.alloc(1024);
      payload.writeUInt32BE(i, 0);
      ws.send(payload);
    }
    // 10 MB waiting: far more than the kernel takes at once.
    expect(ws.bufferedAmount).toBeGreaterThan(1024 * 1024);
    await server.close({ code: 1001, reason: 'bye', timeout: 10_000 });
    const [code, reason, wasClean] = await closed;
    expect(received.length).toBe(N);
    expect(received.every((n, i) => n === i)).toBe(true);
    expect([code, reason.toString(), wasClean]).toEqual([1001, 'bye', true]);
    expect(server.stats().messagesOut).toBe(N);
  });

  it('a peer that reads slowly during the shutdown still gets everything before the close frame', async () => {
    const N = 2000;
    const { server, port } = await startServer(defer);
    const connection = next<[WebSocket]>(server, 'connection');
    const peer = await RawClient.connect(port);
    defer(() => peer.destroy());
    const [ws] = await connection;
    peer.socket.pause();
    for (let i = 0; i < N; i++) ws.send(`message ${i} `.padEnd(2000, '.'));
    const closing = server.close({ timeout: 10_000 });
    await delay(300);
    peer.socket.resume();
    const close = await peer.next(OP.close, 10_000);
    expect(close.payload.readUInt16BE(0)).toBe(1001);
    const texts = peer.frames.filter((f) => f.opcode === OP.text);
    expect(texts).toHaveLength(N);
    expect(texts.every((f, i) => f.payload.toString().startsWith(`message ${i} `))).toBe(true);
    expect(peer.frames.at(-1)!.opcode).toBe(OP.close);
    peer.send(closeFrame(1001));
    await closing;
  });

  it('a server passed with `server:` is left listening; its upgrades are no longer handled', async () => {
    const http = await import('node:http');
    const { WebSocketServer } = await import('../../src/index.js');
    const httpServer = http.createServer((_req, res) => res.end('plain http still works'));
    httpServer.listen(0, '127.0.0.1');
    await once(httpServer, 'listening');
    defer(() => new Promise((resolve) => httpServer.close(resolve)));
    const port = (httpServer.address() as net.AddressInfo).port;
    const wss = new WebSocketServer({ server: httpServer });
    const client = await connect(`ws://127.0.0.1:${port}`);
    const closed = next<[number]>(client, 'close');
    await wss.close({ timeout: 1000 });
    expect((await closed)[0]).toBe(1001);
    const body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
    expect(body).toBe('plain http still works');
    const error = await connect(`ws://127.0.0.1:${port}`).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
  });
});

describe('the CLI', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`rfc6455 echo --port 0 prints its real port and on ${signal} closes connections with 1001 and exits 0`, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'echo', '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      defer(() => child.exitCode === null && child.kill('SIGKILL'));
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk));
      const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
      const deadline = Date.now() + 15_000;
      let match: RegExpExecArray | null = null;
      while (!(match = /listening on (ws:\/\/127\.0\.0\.1:(\d+))/.exec(output))) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no URL printed: ${output}`);
        await delay(20);
      }
      const port = Number(match[2]);
      expect(port).toBeGreaterThan(0);
      const client = await connect(match[1]);
      client.send('ping?');
      const [echo] = await next<[Buffer]>(client, 'message');
      expect(echo.toString()).toBe('ping?');
      const closed = next<[number, Buffer, boolean]>(client, 'close', 10_000);
      child.kill(signal);
      const [code, reason, wasClean] = await closed;
      expect(code).toBe(1001);
      expect(reason.toString()).toBe('server shutting down');
      expect(wasClean).toBe(true);
      const [exitCode] = await exited;
      expect(exitCode).toBe(0);
      expect(await connectRefused(port)).toBe('ECONNREFUSED');
    });
  }
});
