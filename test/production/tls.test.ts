/**
 * wss://: a server with key/cert options, a WebSocketServer on an https server, and the client
 * trusting (ca), refusing (no ca) or being told not to check (rejectUnauthorized: false) a
 * self-signed certificate generated with openssl for this run.
 */
import { once } from 'node:events';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { connect, HandshakeError, WebSocketServer, type WebSocket } from '../../src/index.js';
import { useCertificate } from '../helpers/certificate.js';
import { useCleanup } from '../helpers/cleanup.js';
import { next, SLACK, socketClosed } from '../helpers/wait.js';

const defer = useCleanup();

const certificate = useCertificate();

async function wssServer(extra: Record<string, unknown> = {}): Promise<{ server: WebSocketServer; port: number }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', key: certificate.key, cert: certificate.cert, ...extra });
  defer(() => server.close({ timeout: 100 }));
  await once(server, 'listening');
  server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return { server, port: (server.address() as net.AddressInfo).port };
}

async function echoOnce(ws: WebSocket, text: string): Promise<string> {
  ws.send(text);
  const [data] = await next<[Buffer]>(ws, 'message');
  return data.toString();
}

describe('wss:// with key/cert options', () => {
  it('a client given the certificate as ca connects (by name and by IP) and exchanges messages', async () => {
    const { server, port } = await wssServer();
    const secure: boolean[] = [];
    server.on('connection', (_ws, req) => secure.push(Boolean((req.socket as tls.TLSSocket).encrypted)));
    for (const host of ['localhost', '127.0.0.1']) {
      const ws = await connect(`wss://${host}:${port}/`, { ca: certificate.cert });
      defer(() => ws.terminate());
      expect(ws.url).toBe(`wss://${host}:${port}/`);
      expect(await echoOnce(ws, `over TLS to ${host}`)).toBe(`over TLS to ${host}`);
      const big = 'x'.repeat(200_000);
      expect(await echoOnce(ws, big)).toBe(big);
    }
    expect(secure).toEqual([true, true]);
  });

  it('a client without ca refuses the untrusted certificate; no connection is made', async () => {
    const { server, port } = await wssServer();
    let connections = 0;
    server.on('connection', () => connections++);
    const error = await connect(`wss://localhost:${port}/`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as Error).message).toMatch(/self[- ]signed certificate/i);
    expect(connections).toBe(0);
  });

  it('a client with a ca that does not match the host name refuses too', async () => {
    const { port } = await wssServer();
    const error = await connect(`wss://127.0.0.1:${port}/`, { ca: certificate.cert, servername: 'example.com' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as Error).message).toMatch(/altnames|does not match/i);
  });

  it('rejectUnauthorized: false connects without checking', async () => {
    const { port } = await wssServer();
    const ws = await connect(`wss://localhost:${port}/`, { rejectUnauthorized: false });
    defer(() => ws.terminate());
    expect(await echoOnce(ws, 'unchecked')).toBe('unchecked');
  });

  it('the handshake timeout drops a client that completes TLS but sends no request', async () => {
    const { port } = await wssServer({ handshakeTimeout: 300 });
    const secure = tls.connect({ port, host: '127.0.0.1', ca: certificate.cert, servername: 'localhost' });
    defer(() => secure.destroy());
    secure.on('error', () => {});
    await once(secure, 'secureConnect');
    const started = performance.now();
    await socketClosed(secure);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(300 + SLACK);
  });

  it('the handshake timeout also drops a TCP client that never starts TLS (no ClientHello)', async () => {
    const { port } = await wssServer({ handshakeTimeout: 300 });
    const silent = net.connect({ port, host: '127.0.0.1' });
    defer(() => silent.destroy());
    silent.on('error', () => {});
    await once(silent, 'connect');
    const started = performance.now();
    await socketClosed(silent);
    expect(performance.now() - started).toBeLessThan(300 + SLACK);
  });

  it('plain ws:// to the wss port fails', async () => {
    const { port } = await wssServer();
    const error = await connect(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 2000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
  });
});

describe('wss:// on an https server (server: option)', () => {
  it('shares the https server with plain requests; client trust works the same', async () => {
    const httpsServer = https.createServer({ key: certificate.key, cert: certificate.cert }, (_req, res) => res.end('https ok'));
    httpsServer.listen(0, '127.0.0.1');
    await once(httpsServer, 'listening');
    defer(() => new Promise((resolve) => httpsServer.close(resolve)));
    defer(() => httpsServer.closeAllConnections());
    const port = (httpsServer.address() as net.AddressInfo).port;
    const wss = new WebSocketServer({ server: httpsServer, path: '/ws' });
    defer(() => wss.close({ timeout: 100 }));
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));

    const ws = await connect(`wss://localhost:${port}/ws`, { ca: certificate.cert });
    defer(() => ws.terminate());
    expect(await echoOnce(ws, 'via https server')).toBe('via https server');

    const untrusted = await connect(`wss://localhost:${port}/ws`).catch((e: unknown) => e);
    expect(untrusted).toBeInstanceOf(HandshakeError);
    expect((untrusted as Error).message).toMatch(/self[- ]signed certificate/i);

    const unchecked = await connect(`wss://localhost:${port}/ws`, { rejectUnauthorized: false });
    defer(() => unchecked.terminate());
    expect(await echoOnce(unchecked, 'unchecked')).toBe('unchecked');
    expect(wss.clients.size).toBe(2);

    const body = await new Promise<string>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: '/', ca: certificate.cert, servername: 'localhost' }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    expect(body).toBe('https ok');
  });
});
