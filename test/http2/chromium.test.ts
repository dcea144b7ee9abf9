/**
 * Headless Chromium (Debian's, through playwright-core) loads a page over HTTPS from an app's
 * http2 secure server (its self-signed certificate trusted by SPKI hash) and opens
 * `new WebSocket('wss://same-origin/ws')`. Chromium runs a WebSocket as a stream of its HTTP/2
 * connection when the server announced SETTINGS_ENABLE_CONNECT_PROTOCOL: the server side asserts
 * that the page came over HTTP/2 and that the WebSocket ran over an Http2Stream.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from '../../src/index.js';
import { useCertificate } from '../helpers/certificate.js';
import { closed } from '../helpers/wait.js';
import { transportOf } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const certificate = useCertificate();

// The page: text and binary both ways, then a close with a code; it reports what it saw.
const PAGE = `<!doctype html><title>h2</title><script>
window.result = new Promise((resolve, reject) => {
  const log = [];
  const ws = new WebSocket('wss://' + location.host + '/ws', ['chat.v1']);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => { log.push('open ' + ws.protocol); ws.send('hello from chromium'); };
  ws.onmessage = (event) => {
    if (typeof event.data === 'string') {
      log.push('text ' + event.data);
      ws.send(new Uint8Array([1, 2, 3, 250]));
    } else {
      log.push('binary ' + Array.from(new Uint8Array(event.data)).join(','));
      ws.close(4001, 'bye from chromium');
    }
  };
  ws.onclose = (event) => { log.push('close ' + event.code + ' ' + event.wasClean); resolve(log); };
  ws.onerror = () => log.push('error');
  setTimeout(() => reject(new Error('timeout: ' + log.join(' | '))), 10000);
});
</script>`;

let context: BrowserContext;
let profile: string;
let server: http2.Http2SecureServer;
let wss: WebSocketServer;
let port: number;
const pageVersions: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get update && apt-get install -y chromium); .ci/run does this before npm test`);
  }
  server = http2.createSecureServer({ key: certificate.key, cert: certificate.cert, allowHTTP1: true });
  server.on('request', (req, res) => {
    pageVersions.push(req.httpVersion);
    if (req.url === '/favicon.ico') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  wss = new WebSocketServer({ server, path: '/ws' });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  // Chromium trusts a certificate by the SHA-256 of its SubjectPublicKeyInfo (with a profile dir).
  const spki = createPublicKey(certificate.cert).export({ type: 'spki', format: 'der' });
  const pin = createHash('sha256').update(spki).digest('base64');
  profile = await mkdtemp(join(tmpdir(), 'rfc6455-h2-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', `--ignore-certificate-errors-spki-list=${pin}`,
    ],
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await wss?.close({ timeout: 100 });
  server?.close();
});

describe('Chromium opens a WebSocket over HTTP/2 (RFC 8441)', () => {
  it('exchanges text and binary both ways and closes with a code, on a stream of the page\'s HTTP/2 connection', async () => {
    const accepted = new Promise<{ ws: WebSocket; version: string; headers: Record<string, unknown>; end: ReturnType<typeof closed> }>((resolve) =>
      wss.once('connection', (ws, req) => resolve({ ws, version: req.httpVersion, headers: req.headers, end: closed(ws, 15_000) })),
    );
    const serverLog: string[] = [];
    wss.once('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        serverLog.push(isBinary ? `binary ${[...(data as Buffer)].join(',')}` : `text ${data}`);
        // Answer text with text, binary with reversed binary: both directions, both types.
        if (isBinary) ws.send(Buffer.from([...(data as Buffer)].reverse()));
        else ws.send(`echo: ${data}`);
      });
    });
    const page = await context.newPage();
    await page.goto(`https://localhost:${port}/`);
    const log = await page.evaluate(() => (globalThis as any).result as Promise<string[]>);
    const { ws, version, headers, end } = await accepted;
    const serverClose = await end;
    const protocol = await page.evaluate(() => ((globalThis as any).performance.getEntriesByType('navigation')[0] as { nextHopProtocol: string }).nextHopProtocol);

    expect(log).toEqual(['open chat.v1', 'text echo: hello from chromium', 'binary 250,3,2,1', 'close 4001 true']);
    expect(serverLog).toEqual(['text hello from chromium', 'binary 1,2,3,250']);
    expect([serverClose.code, serverClose.reason, serverClose.wasClean]).toEqual([4001, 'bye from chromium', true]);
    // Chromium really used HTTP/2: for the page, and for the WebSocket (an extended CONNECT stream).
    expect(protocol).toBe('h2');
    expect(pageVersions[0]).toBe('2.0');
    expect(version).toBe('2.0');
    expect([headers[':method'], headers[':protocol']]).toEqual(['CONNECT', 'websocket']);
    expect((transportOf(ws) as object).constructor.name).toBe('ServerHttp2Stream');
    // The close handshake, then END_STREAM both ways: no reset.
    expect((transportOf(ws) as http2.ServerHttp2Stream).rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    await page.close();
  }, 30_000);
});
