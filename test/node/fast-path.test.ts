/**
 * The raw fast path (raw-wire.ts) and where it runs: which wire a connection gets, that messages
 * read through the one shared buffer survive later reads, the switch that turns it off, and the
 * standalone server's own request object.
 */
import { execFileSync } from 'node:child_process';
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { connect, WebSocketServer, type WebSocket } from '../../src/index.js';
import { fastPathStatus } from '../../src/node/fast-path.js';
import { RawWire } from '../../src/node/raw-wire.js';
import { StreamWire } from '../../src/node/stream-wire.js';
import { RequestHead } from '../../src/node/request-head.js';
import type { ServerRequest } from '../../src/node/server.js';
import { useCertificate } from '../helpers/certificate.js';
import { useCleanup } from '../helpers/cleanup.js';
import { frame, OP, rawRequest, RawClient } from '../helpers/raw.js';
import { startHttpServer, startServer } from '../helpers/server.js';
import { next, waitFor } from '../helpers/wait.js';

const defer = useCleanup();
const certificate = useCertificate();
const major = Number(process.versions.node.split('.')[0]);
const forcedOff = process.env.RFC6455_FAST_PATH === '0';

function wireOf(ws: WebSocket): unknown {
  return (ws as unknown as { transport: { wire: unknown } }).transport.wire;
}

/** The wire a plain TCP connection should get here. */
const TcpWire = forcedOff ? StreamWire : RawWire;

describe('the fast path: where it runs', () => {
  it('is on for the Node majors the project tests, unless RFC6455_FAST_PATH=0', () => {
    const status = fastPathStatus();
    expect(status.enabled).toBe(!forcedOff && [20, 22, 24].includes(major));
    if (forcedOff) expect(status.reason).toMatch(/RFC6455_FAST_PATH=0/);
  });

  it('RFC6455_FAST_PATH=0 turns it off in a process started with it', () => {
    const script = `import('${new URL('../../src/node/fast-path.ts', import.meta.url).pathname}').then((m) => console.log(JSON.stringify(m.fastPathStatus())))`;
    const run = (value: string | undefined) =>
      JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { env: { ...process.env, RFC6455_FAST_PATH: value }, encoding: 'utf8' }));
    expect(run('0')).toEqual({ enabled: false, reason: 'turned off (RFC6455_FAST_PATH=0)' });
    expect(run('1').enabled).toBe([20, 22, 24].includes(major));
  });

  it('a standalone server takes plain TCP connections onto it; the socket stays usable as req.socket', async () => {
    const { server, url } = await startServer(defer);
    const accepted = next<[WebSocket, ServerRequest]>(server, 'connection');
    const client = await connect(url);
    defer(() => client.terminate());
    const [ws, req] = await accepted;
    await new Promise((resolve) => setImmediate(resolve));
    expect(wireOf(ws)).toBeInstanceOf(TcpWire);
    // The client (node:http's socket) runs on the same path.
    expect(wireOf(client)).toBeInstanceOf(TcpWire);
    ws.send('over the wire');
    expect(String((await next<[Buffer]>(client, 'message'))[0])).toBe('over the wire');
    expect(req.socket.remoteAddress).toBe('127.0.0.1');
    const read = req.socket.bytesRead;
    client.send('more');
    await next(ws, 'message');
    expect(req.socket.bytesRead).toBeGreaterThan(read);
  });

  it('the fastPath: false option keeps a server\'s connections on the stream', async () => {
    const { server, url } = await startServer(defer, { fastPath: false });
    const accepted = next<[WebSocket]>(server, 'connection');
    const client = await connect(url);
    defer(() => client.terminate());
    const [ws] = await accepted;
    await new Promise((resolve) => setImmediate(resolve));
    expect(wireOf(ws)).toBeInstanceOf(StreamWire);
    client.send('still works');
    expect(String((await next<[Buffer]>(ws, 'message'))[0])).toBe('still works');
  });

  it('server: and handleUpgrade take the socket over too, and so does TLS', async () => {
    const { server: httpServer, port } = await startHttpServer(defer);
    const attached = new WebSocketServer({ server: httpServer });
    defer(() => attached.close({ timeout: 100 }));
    const accepted = next<[WebSocket]>(attached, 'connection');
    const client = await connect(`ws://127.0.0.1:${port}/`);
    defer(() => client.terminate());
    const [ws] = await accepted;
    await new Promise((resolve) => setImmediate(resolve));
    expect(wireOf(ws)).toBeInstanceOf(TcpWire);

    const secure = new WebSocketServer({ port: 0, host: '127.0.0.1', key: certificate.key, cert: certificate.cert });
    defer(() => secure.close({ timeout: 100 }));
    await next(secure, 'listening');
    const tlsAccepted = next<[WebSocket, ServerRequest]>(secure, 'connection');
    const tlsClient = await connect(`wss://127.0.0.1:${(secure.address() as AddressInfo).port}/`, { ca: certificate.cert });
    defer(() => tlsClient.terminate());
    const [tlsWs, tlsReq] = await tlsAccepted;
    await new Promise((resolve) => setImmediate(resolve));
    // Both ends of a TLS connection drive the TLSWrap handle: decrypted reads, writes encrypted below.
    expect(wireOf(tlsWs)).toBeInstanceOf(TcpWire);
    expect(wireOf(tlsClient)).toBeInstanceOf(TcpWire);
    expect((tlsReq.socket as { encrypted?: boolean }).encrypted).toBe(true);
    tlsClient.send('secure');
    expect(String((await next<[Buffer]>(tlsWs, 'message'))[0])).toBe('secure');
    // Messages past one TLS record and one read, both ways, while more arrive behind them.
    const big = [randomBytes(200_000), randomBytes(70_000), randomBytes(3)];
    const got: Buffer[] = [];
    tlsWs.on('message', (data: Buffer) => {
      got.push(data);
      tlsWs.send(data);
    });
    const echoed: Buffer[] = [];
    tlsClient.on('message', (data: Buffer) => echoed.push(data));
    for (const payload of big) tlsClient.send(payload);
    await waitFor(() => echoed.length === big.length, 10_000, 'the echoes over TLS');
    for (let i = 0; i < big.length; i++) {
      expect(got[i].equals(big[i]), `message ${i} in`).toBe(true);
      expect(echoed[i].equals(big[i]), `message ${i} back`).toBe(true);
    }
    const closed = next<[number]>(tlsClient, 'close');
    tlsWs.close(4001, 'done');
    expect((await closed)[0]).toBe(4001);
  });
});

describe('reads through one shared buffer', () => {
  it('every message kept by the application survives the reads after it (random sizes and cuts)', async () => {
    const { server, port } = await startServer(defer, { maxPayload: 1 << 20 });
    const kept: Buffer[] = [];
    server.on('connection', (ws) => ws.on('message', (data: Buffer) => kept.push(data)));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 3000, max: 70_000 })), { minLength: 20, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 40_000 }), { minLength: 1, maxLength: 30 }),
        async (sizes, cuts) => {
          kept.length = 0;
          const peer = await RawClient.open(port, {}, defer);
          const sent = sizes.map((size) => randomBytes(size));
          const wire = Buffer.concat(sent.map((payload) => frame(OP.binary, payload)));
          // The same bytes cut at random places, each piece its own write.
          let at = 0;
          for (const cut of cuts) {
            if (at >= wire.length) break;
            peer.socket.write(wire.subarray(at, Math.min(wire.length, at + cut)));
            at += cut;
          }
          if (at < wire.length) peer.socket.write(wire.subarray(at));
          await waitFor(() => kept.length === sent.length, 10_000, 'every message');
          // More reads into the same buffer, then the first messages are looked at again.
          for (let i = 0; i < 20; i++) peer.socket.write(frame(OP.binary, randomBytes(60_000)));
          await waitFor(() => kept.length === sent.length + 20, 10_000, 'the overwriting messages');
          for (let i = 0; i < sent.length; i++) expect(kept[i].equals(sent[i]), `message ${i} (${sent[i].length} B)`).toBe(true);
          peer.destroy();
        },
      ),
      { numRuns: 8 },
    );
  });

  it('text, pings and close reasons read through it arrive intact', async () => {
    const { server, port } = await startServer(defer);
    const got: string[] = [];
    server.on('connection', (ws) => {
      ws.on('message', (data: Buffer) => got.push(`message ${data}`));
      ws.on('ping', (data: Buffer) => got.push(`ping ${data}`));
      ws.on('close', (code, reason) => got.push(`close ${code} ${reason}`));
    });
    const peer = await RawClient.open(port, {}, defer);
    peer.socket.write(Buffer.concat([frame(OP.ping, 'p1'), frame(OP.text, 'héllo'), frame(OP.text, 'frag', { fin: false }), frame(OP.cont, 'mented'), frame(OP.close, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('bye')]))]));
    await waitFor(() => got.length === 4);
    expect(got).toEqual(['ping p1', 'message héllo', 'message fragmented', 'close 1000 bye']);
  });
});

describe('the standalone server reads request heads itself', () => {
  it("hands 'connection' a RequestHead with what an IncomingMessage would have", async () => {
    const { server, port } = await startServer(defer);
    const accepted = next<[WebSocket, ServerRequest]>(server, 'connection');
    const client = await connect(`ws://127.0.0.1:${port}/chat?room=1`, { headers: { 'X-Custom': 'Yes' } });
    defer(() => client.terminate());
    const [, req] = await accepted;
    expect(req).toBeInstanceOf(RequestHead);
    expect(req).not.toBeInstanceOf(http.IncomingMessage);
    expect(req.method).toBe('GET');
    expect(req.url).toBe('/chat?room=1');
    expect(req.httpVersion).toBe('1.1');
    expect(req.headers['x-custom']).toBe('Yes');
    expect(req.headers.host).toBe(`127.0.0.1:${port}`);
    expect(req.rawHeaders).toContain('X-Custom');
    expect(req.socket.remoteAddress).toBe('127.0.0.1');
    expect(typeof req.socket.remotePort).toBe('number');
  });

  it('answers a head past 16 KiB with 431 and a malformed one with 400', async () => {
    const { port } = await startServer(defer);
    const big = await rawRequest(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`);
    expect(big.status).toBe(431);
    expect(big.closedByServer).toBe(true);
    const bad = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n');
    expect(bad.status).toBe(400);
  });

  it('frames sent with the upgrade request, in the same write, are the first messages', async () => {
    const { server, port } = await startServer(defer);
    const got: string[] = [];
    server.on('connection', (ws) => ws.on('message', (data: Buffer) => got.push(String(data))));
    const key = randomBytes(16).toString('base64');
    const request = `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const answer = await rawRequest(port, Buffer.concat([Buffer.from(request), frame(OP.text, 'one'), frame(OP.text, 'two')]), 1000);
    expect(answer.status).toBe(101);
    await waitFor(() => got.length === 2);
    expect(got).toEqual(['one', 'two']);
  });
});
