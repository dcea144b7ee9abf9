/**
 * permessage-deflate with real peers: the `ws` package (client and server, several option sets)
 * and headless Chromium (Debian's /usr/bin/chromium driven by playwright-core).
 */
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as WsClient, WebSocketServer as WsServer, type PerMessageDeflateOptions, type RawData } from 'ws';
import { connect, type DeflateOptions, type WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { startServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { text } from './zlib.js';

const defer = useCleanup();

/** Large compressible text, random-ish binary, a small one, fragments, and repeats (takeover). */
function corpus(): Array<string | Buffer> {
  const binary = Buffer.alloc(60_000);
  for (let i = 0; i < binary.length; i++) binary[i] = (i * 31 + (i >> 7)) & 0xff;
  return [text(200_000, 1), binary, 'small', text(1500, 2), text(1500, 2), text(1500, 2), Buffer.alloc(1 << 20, 7), text(40_000, 3)];
}

function asBuffer(data: RawData | Buffer): Buffer {
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
}

async function ourEchoServer(perMessageDeflate: boolean | DeflateOptions) {
  const started = await startServer(defer, { perMessageDeflate });
  const extensions: string[] = [];
  started.server.on('connection', (ws) => {
    extensions.push(ws.extensions);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  return { ...started, extensions };
}

async function wsEchoServer(perMessageDeflate: boolean | PerMessageDeflateOptions) {
  const server = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  defer(() => new Promise<void>((resolve) => {
    for (const c of server.clients) c.terminate();
    server.close(() => resolve());
  }));
  const extensions: string[] = [];
  server.on('connection', (ws, req) => {
    extensions.push(req.headers['sec-websocket-extensions'] ?? '');
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, extensions };
}

/** ws's client: sends each message (the fragmented one in three frames) and checks each echo. */
async function exchangeWsClient(url: string, options: boolean | PerMessageDeflateOptions): Promise<string> {
  const ws = new WsClient(url, { perMessageDeflate: options });
  defer(() => ws.terminate());
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const received: Array<{ data: Buffer; isBinary: boolean }> = [];
  ws.on('message', (data, isBinary) => received.push({ data: asBuffer(data), isBinary }));
  const messages = corpus();
  for (const m of messages) ws.send(m);
  const fragmented = text(30_000, 4);
  ws.send(fragmented.slice(0, 10_000), { fin: false });
  ws.send(fragmented.slice(10_000, 20_000), { fin: false });
  ws.send(fragmented.slice(20_000), { fin: true });
  await waitFor(() => received.length === messages.length + 1, 10_000);
  [...messages, fragmented].forEach((m, i) => {
    expect(received[i].isBinary, `message ${i}`).toBe(typeof m !== 'string');
    expect(received[i].data.equals(Buffer.from(m)), `message ${i}`).toBe(true);
  });
  // ws lists the names of the extensions it agreed to.
  const agreed = ws.extensions;
  ws.close();
  return agreed;
}

/** Our client: the same exchange, fragmented sends included. */
async function exchangeOurClient(url: string, options: boolean | DeflateOptions): Promise<WebSocket> {
  const ws = await connect(url, { perMessageDeflate: options });
  defer(() => ws.terminate());
  const received: Array<{ data: Buffer; isBinary: boolean }> = [];
  ws.on('message', (data, isBinary) => received.push({ data: data as Buffer, isBinary }));
  const messages = corpus();
  for (const m of messages) ws.send(m);
  const fragmented = text(30_000, 5);
  ws.send(fragmented.slice(0, 10_000), { fin: false });
  ws.send(fragmented.slice(10_000, 20_000), { fin: false });
  ws.send('', { fin: false });
  ws.send(fragmented.slice(20_000), { fin: true });
  await waitFor(() => received.length === messages.length + 1, 10_000);
  [...messages, fragmented].forEach((m, i) => {
    expect(received[i].isBinary, `message ${i}`).toBe(typeof m !== 'string');
    expect(received[i].data.equals(Buffer.from(m)), `message ${i}`).toBe(true);
  });
  return ws;
}

describe('ws client → our server', () => {
  it.each<[string, PerMessageDeflateOptions | true, DeflateOptions | true, string]>([
    ['defaults', true, true, 'permessage-deflate'],
    ['threshold 0 on both', { threshold: 0 }, { threshold: 0 }, 'permessage-deflate'],
    ['no context takeover asked by the client', { serverNoContextTakeover: true, clientNoContextTakeover: true }, true,
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
    ['no context takeover imposed by the server', true, { serverNoContextTakeover: true, clientNoContextTakeover: true },
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
    ['window bits asked by the client', { serverMaxWindowBits: 10, clientMaxWindowBits: 9 }, true,
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits=9'],
    ['8-bit windows', { serverMaxWindowBits: 8, clientMaxWindowBits: 8 }, true, 'permessage-deflate; server_max_window_bits=8; client_max_window_bits=8'],
    ['window bits set by the server', true, { serverMaxWindowBits: 9, clientMaxWindowBits: 11 }, 'permessage-deflate; server_max_window_bits=9; client_max_window_bits=11'],
    ['levels', { zlibDeflateOptions: { level: 1, memLevel: 4 } }, { level: 9, memLevel: 9 }, 'permessage-deflate'],
  ])('%s', async (_, wsOptions, ourOptions, agreed) => {
    const server = await ourEchoServer(ourOptions);
    expect(await exchangeWsClient(server.url, wsOptions)).toBe('permessage-deflate');
    expect(server.extensions).toEqual([agreed]);
  });

  it('ws without perMessageDeflate: plain connection', async () => {
    const server = await ourEchoServer(true);
    expect(await exchangeWsClient(server.url, false)).toBe('');
    expect(server.extensions).toEqual(['']);
  });
});

describe('our client → ws server', () => {
  it.each<[string, DeflateOptions | true, PerMessageDeflateOptions | true, string]>([
    ['defaults', true, true, 'permessage-deflate; client_max_window_bits'],
    ['threshold 0 on both', { threshold: 0 }, { threshold: 0 }, 'permessage-deflate; client_max_window_bits'],
    ['no context takeover asked by us', { serverNoContextTakeover: true, clientNoContextTakeover: true }, true,
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits'],
    ['no context takeover imposed by ws', true, { serverNoContextTakeover: true, clientNoContextTakeover: true },
      'permessage-deflate; client_max_window_bits'],
    ['window bits asked by us', { serverMaxWindowBits: 10, clientMaxWindowBits: 9 }, true,
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits=9'],
    ['8-bit windows', { serverMaxWindowBits: 8, clientMaxWindowBits: 8 }, true, 'permessage-deflate; server_max_window_bits=8; client_max_window_bits=8'],
    ['window bits set by ws', true, { serverMaxWindowBits: 9, clientMaxWindowBits: 11 }, 'permessage-deflate; client_max_window_bits'],
    ['levels', { level: 9, memLevel: 9 }, { zlibDeflateOptions: { level: 1, memLevel: 4 } }, 'permessage-deflate; client_max_window_bits'],
  ])('%s', async (_, ourOptions, wsOptions, offered) => {
    const server = await wsEchoServer(wsOptions);
    const ws = await exchangeOurClient(server.url, ourOptions);
    expect(server.extensions).toEqual([offered]);
    expect(ws.extensions).toMatch(/^permessage-deflate/);
  });

  it('ws without perMessageDeflate: plain connection', async () => {
    const server = await wsEchoServer(false);
    const ws = await exchangeOurClient(server.url, true);
    expect(ws.extensions).toBe('');
  });
});

const CHROMIUM = '/usr/bin/chromium';

describe('headless Chromium → our server', () => {
  let browser: Browser | null = null;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) return;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('offers permessage-deflate; large text and binary round-trip, compressed both ways', async () => {
    if (!browser) {
      throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get update && apt-get install -y chromium); .ci/run does this before npm test`);
    }
    const started = await startServer(defer, { perMessageDeflate: true });
    const connections: Array<{ extensions: string; socket: Socket; offered: string }> = [];
    started.server.on('connection', (ws, req) => {
      connections.push({ extensions: ws.extensions, socket: req.socket as Socket, offered: req.headers['sec-websocket-extensions'] ?? '' });
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });

    const page = `<!doctype html><meta charset="utf-8"><title>deflate</title><script>
      window.result = new Promise((resolve) => {
        const words = ['alpha', 'beta', 'gamma', 'delta', 'λάμδα', '€', 'omega'];
        const parts = [];
        for (let i = 0; i < 60000; i++) parts.push(words[(i * 7 + (i >> 3)) % words.length]);
        const big = parts.join(' ');
        const binary = new Uint8Array(300000);
        for (let i = 0; i < binary.length; i++) binary[i] = (i % 251) ^ ((i >> 10) & 0xff);
        const messages = [big, binary, 'small', big.slice(0, 5000), big.slice(0, 5000)];
        const ws = new WebSocket(${JSON.stringify(started.url)});
        ws.binaryType = 'arraybuffer';
        const echoes = [];
        ws.onopen = () => messages.forEach((m) => ws.send(m));
        ws.onmessage = (event) => {
          echoes.push(event.data);
          if (echoes.length < messages.length) return;
          const same = messages.map((m, i) => {
            const e = echoes[i];
            if (typeof m === 'string') return e === m;
            const b = new Uint8Array(e);
            return b.length === m.length && b.every((x, j) => x === m[j]);
          });
          const sent = messages.reduce((n, m) => n + (typeof m === 'string' ? new TextEncoder().encode(m).length : m.length), 0);
          resolve({ extensions: ws.extensions, same, sent });
          ws.close(1000);
        };
        ws.onerror = () => resolve({ error: 'websocket error' });
      });
    </script>`;
    const http_ = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(page);
    });
    await new Promise<void>((resolve) => http_.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise<void>((resolve) => http_.close(() => resolve())));
    const pageUrl = `http://127.0.0.1:${(http_.address() as AddressInfo).port}/`;

    const tab = await browser.newPage();
    defer(() => tab.close());
    await tab.goto(pageUrl);
    const result = (await tab.evaluate('window.result')) as { extensions: string; same: boolean[]; sent: number; error?: string };
    expect(result.error).toBeUndefined();
    expect(result.same).toEqual([true, true, true, true, true]);
    expect(connections).toHaveLength(1);
    expect(connections[0].offered).toMatch(/permessage-deflate/);
    expect(connections[0].extensions).toBe('permessage-deflate');
    expect(result.extensions).toBe('permessage-deflate');
    // Compressed both ways: far fewer bytes crossed the socket than the messages hold.
    expect(connections[0].socket.bytesRead).toBeLessThan(result.sent / 3);
    expect(connections[0].socket.bytesWritten).toBeLessThan(result.sent / 3);
  }, 60_000);
});
