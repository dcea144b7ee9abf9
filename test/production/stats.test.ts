/**
 * server.stats() after a scripted session (exact numbers), and the Prometheus endpoint of
 * examples/metrics/server.ts fetched with a real HTTP GET.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connect, toPrometheus, type WebSocket } from '../../src/index.js';
import { createMetricsServer } from '../../examples/metrics/server.js';
import { useCleanup } from '../helpers/cleanup.js';
import { RawClient } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import { delay, next, waitFor } from '../helpers/wait.js';

const defer = useCleanup();

describe('server.stats()', () => {
  it('counts connections, handshakes accepted and refused by status, messages and bytes both ways, close codes', async () => {
    const { server, port } = await startServer(defer, {
      path: '/ws',
      maxConnections: 3,
      authenticate: (req) => req.headers['x-deny'] === undefined && { ok: true },
    });
    const url = `ws://127.0.0.1:${port}/ws`;
    expect(server.stats()).toEqual({
      connections: 0,
      handshakesAccepted: 0,
      handshakesRefused: {},
      messagesIn: 0,
      messagesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      closeCodes: {},
    });
    server.on('connection', (ws) => {
      ws.send('welcome'); // 7 bytes out per connection
      ws.on('message', (data, isBinary) => {
        if (data.toString() !== 'quiet') ws.send(data, { binary: isBinary });
      });
    });

    // Refusals: 401 (authenticate), 404 (path), 426 (version), then 503 (full) below.
    expect((await RawClient.connect(port, { path: '/ws', headers: { 'X-Deny': '1' } })).status).toBe(401);
    expect((await RawClient.connect(port, { path: '/elsewhere' })).status).toBe(404);
    const badVersion = await RawClient.connect(port, { path: '/ws', headers: { 'Sec-WebSocket-Version': '8' } }).catch((e: Error) => e);
    // (Two Sec-WebSocket-Version headers: the server sees "13, 8" and answers 426.)
    expect(badVersion instanceof Error ? 0 : badVersion.status).toBe(426);

    const a = await connect(url, { perMessageDeflate: false });
    const b = await connect(url, { perMessageDeflate: false });
    const c = await RawClient.connect(port, { path: '/ws' });
    defer(() => c.destroy());
    expect((await RawClient.connect(port, { path: '/ws' })).status).toBe(503);
    await waitFor(() => server.stats().connections === 3, 2000, '3 connections');

    // a: text 5 bytes and binary 10 bytes, both echoed. b: 3 × 'quiet' (not echoed) and a ping.
    const aEchoes = new Promise<void>((resolve) => {
      let n = 0;
      a.on('message', (data) => data.toString() !== 'welcome' && ++n === 2 && resolve());
    });
    a.send('hello');
    a.send(Buffer.alloc(10));
    await aEchoes;
    for (let i = 0; i < 3; i++) b.send('quiet');
    b.ping('not counted');
    await next(b, 'pong');
    await waitFor(() => server.stats().messagesIn === 5, 2000, '5 messages in');

    expect(server.stats()).toEqual({
      connections: 3,
      handshakesAccepted: 3,
      handshakesRefused: { 401: 1, 404: 1, 426: 1, 503: 1 },
      messagesIn: 5, // hello, 10 bytes, 3 × quiet
      messagesOut: 5, // 3 × welcome, 2 echoes
      bytesIn: 5 + 10 + 3 * 5,
      bytesOut: 3 * 7 + 5 + 10,
      closeCodes: {},
    });

    // Closes: a with 1000, b with 4001, c's TCP connection just drops (1006).
    const serverCloses = new Promise<void>((resolve) => {
      let n = 0;
      for (const ws of server.clients) ws.once('close', () => ++n === 3 && resolve());
    });
    a.close(1000);
    b.close(4001, 'custom');
    c.destroy();
    await serverCloses;
    expect(server.stats()).toEqual({
      connections: 0,
      handshakesAccepted: 3,
      handshakesRefused: { 401: 1, 404: 1, 426: 1, 503: 1 },
      messagesIn: 5,
      messagesOut: 5,
      bytesIn: 30,
      bytesOut: 36,
      closeCodes: { 1000: 1, 4001: 1, 1006: 1 },
    });
    // A snapshot is a copy.
    const snapshot = server.stats();
    snapshot.closeCodes[1000] = 99;
    expect(server.stats().closeCodes[1000]).toBe(1);
  });

  it('counts rate-limited and dropped traffic as the counters document', async () => {
    const { server, port } = await startServer(defer, { rateLimit: { messagesPerSecond: 2, policy: 'drop' } });
    const connection = next<[WebSocket]>(server, 'connection');
    const client = await connect(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    defer(() => client.terminate());
    const [ws] = await connection;
    let limited = 0;
    ws.on('rateLimited', () => limited++);
    for (let i = 0; i < 4; i++) client.send('abcd');
    await waitFor(() => limited === 2, 2000, '2 rate-limited');
    // Received messages are counted as they arrive, before the rate limit decides.
    expect(server.stats()).toMatchObject({ messagesIn: 4, bytesIn: 16 });
  });
});

describe('toPrometheus and examples/metrics/server.ts', () => {
  it('renders a snapshot in Prometheus text format', () => {
    const text = toPrometheus({
      connections: 2,
      handshakesAccepted: 5,
      handshakesRefused: { 401: 2, 503: 1 },
      messagesIn: 10,
      messagesOut: 12,
      bytesIn: 100,
      bytesOut: 120,
      closeCodes: { 1000: 3 },
    });
    expect(text).toBe(
      [
        '# HELP websocket_connections Open WebSocket connections.',
        '# TYPE websocket_connections gauge',
        'websocket_connections 2',
        '# HELP websocket_handshakes_accepted_total Opening handshakes accepted.',
        '# TYPE websocket_handshakes_accepted_total counter',
        'websocket_handshakes_accepted_total 5',
        '# HELP websocket_handshakes_refused_total Opening handshakes refused, by HTTP status.',
        '# TYPE websocket_handshakes_refused_total counter',
        'websocket_handshakes_refused_total{status="401"} 2',
        'websocket_handshakes_refused_total{status="503"} 1',
        '# HELP websocket_messages_total Messages received and sent.',
        '# TYPE websocket_messages_total counter',
        'websocket_messages_total{direction="in"} 10',
        'websocket_messages_total{direction="out"} 12',
        '# HELP websocket_message_bytes_total Message payload bytes received and sent.',
        '# TYPE websocket_message_bytes_total counter',
        'websocket_message_bytes_total{direction="in"} 100',
        'websocket_message_bytes_total{direction="out"} 120',
        '# HELP websocket_closes_total Connections closed, by close code.',
        '# TYPE websocket_closes_total counter',
        'websocket_closes_total{code="1000"} 3',
        '',
      ].join('\n'),
    );
  });

  it('serves the live numbers on GET /metrics next to the WebSocket endpoint', async () => {
    const { http, wss } = createMetricsServer(0);
    defer(() => new Promise((resolve) => http.close(resolve)));
    defer(() => wss.close({ timeout: 100 }));
    await once(http, 'listening');
    const port = (http.address() as AddressInfo).port;
    const ws = await connect(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false });
    defer(() => ws.terminate());
    ws.send('12345');
    await next(ws, 'message');
    expect((await RawClient.connect(port, { path: '/nope' })).status).toBe(404);
    await delay(20);

    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await response.text();
    const samples = Object.fromEntries(
      body
        .split('\n')
        .filter((line) => line && !line.startsWith('#'))
        .map((line) => {
          const space = line.lastIndexOf(' ');
          return [line.slice(0, space), Number(line.slice(space + 1))];
        }),
    );
    expect(samples).toEqual({
      websocket_connections: 1,
      websocket_handshakes_accepted_total: 1,
      'websocket_handshakes_refused_total{status="404"}': 1,
      'websocket_messages_total{direction="in"}': 1,
      'websocket_messages_total{direction="out"}': 1,
      'websocket_message_bytes_total{direction="in"}': 5,
      'websocket_message_bytes_total{direction="out"}': 5,
    });
    expect(body).toContain('# TYPE websocket_closes_total counter');
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });
});
