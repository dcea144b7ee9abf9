// How a WebSocketServer serves HTTP/2: on an app's http2 secure server (with and without HTTP/1.1,
// beside its own request handler), with every server option applying to extended CONNECT as to an
// Upgrade, refusals as HTTP/2 responses; and the client falling back to HTTP/1.1 where it must.
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connect, WebSocketServer, type ServerOptions, type WebSocket } from '../../src/index.js';
import { useCertificate } from '../helpers/certificate.js';
import { useCleanup } from '../helpers/cleanup.js';
import { echo } from '../helpers/server.js';
import { FrameReader, OP } from '../helpers/raw.js';
import { closed, nextMessage } from '../helpers/wait.js';
import { body, connectHeaders, h2Session, request, startTlsEchoServer, transportOf } from './helpers.js';

const defer = useCleanup();
const certificate = useCertificate();

async function listen(server: http2.Http2SecureServer | https.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

/** An app's http2 server serving a page, with a WebSocketServer on it. */
async function appServer(options: Omit<ServerOptions, 'server' | 'port' | 'noServer'> = {}, allowHTTP1 = true) {
  const server = http2.createSecureServer({ key: certificate.key, cert: certificate.cert, allowHTTP1 });
  server.on('request', (req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`page over HTTP/${req.httpVersion}`);
  });
  const wss = echo(new WebSocketServer({ server, ...options }));
  defer(() => wss.close({ timeout: 100 }));
  const port = await listen(server);
  return { server, wss, port, url: `wss://localhost:${port}` };
}

async function refusal(port: number, headers: http2.OutgoingHttpHeaders) {
  const { session } = await h2Session(defer, port, certificate);
  const { stream, response } = await request(session, headers);
  return { status: response[':status'], headers: response, body: await body(stream) };
}

describe('a WebSocketServer on an http2 secure server', () => {
  it('announces SETTINGS_ENABLE_CONNECT_PROTOCOL and takes extended CONNECT beside the app handler and HTTP/1.1 upgrades', async () => {
    const { wss, port, url } = await appServer({ perMessageDeflate: true });
    const { settings, session } = await h2Session(defer, port, certificate);
    expect(settings.enableConnectProtocol).toBe(true);
    // The app's own requests still reach it, over HTTP/2.
    const page = await request(session, { ':path': '/' });
    expect(await body(page.stream)).toBe('page over HTTP/2.0');
    const sides: Array<[WebSocket, string]> = [];
    wss.on('connection', (ws, req) => sides.push([ws, req.httpVersion]));
    const h2 = await connect(`${url}/chat`, { ca: certificate.cert, http2: true, protocols: ['chat', 'x'] });
    const h1 = await connect(`${url}/chat`, { ca: certificate.cert, protocols: ['chat'] });
    defer(() => h2.terminate());
    defer(() => h1.terminate());
    expect(sides.map(([, v]) => v)).toEqual(['2.0', '1.1']);
    expect((transportOf(sides[0][0]) as object).constructor.name).toBe('ServerHttp2Stream');
    expect((transportOf(sides[1][0]) as object).constructor.name).toBe('TLSSocket');
    for (const ws of [h2, h1]) {
      expect(ws.protocol).toBe('chat');
      expect(ws.extensions).toMatch(/^permessage-deflate/);
      const reply = nextMessage(ws);
      ws.send('x'.repeat(5000));
      expect((await reply).data.toString()).toBe('x'.repeat(5000));
    }
    expect(h2.url).toBe(`${url}/chat`);
    expect(sides[0][0].url).toBe('/chat');
  });

  it('works on an http2 server without allowHTTP1; a plain CONNECT (a tunnel) still gets node:http2\'s 405', async () => {
    const { port, url } = await appServer({}, false);
    const ws = await connect(url, { ca: certificate.cert, http2: true });
    defer(() => ws.terminate());
    const reply = nextMessage(ws);
    ws.send(Buffer.from([1, 2, 3]));
    expect([...(await reply).data]).toEqual([1, 2, 3]);
    const tunnel = await refusal(port, { ':method': 'CONNECT', ':authority': 'example.com:443' });
    expect(tunnel.status).toBe(405);
  });

  it('every option works over HTTP/2: path, verifyClient, authenticate, allowedOrigins, maxConnections, maxPayload', async () => {
    let users = 0;
    const { wss, port, url } = await appServer({
      path: '/ws',
      maxPayload: 100,
      maxConnections: 2,
      allowedOrigins: ['https://good.example'],
      verifyClient: ({ req }: { req: { headers: Record<string, unknown> } }) => req.headers['x-pass'] !== 'no',
      authenticate: (req) => {
        if (req.headers.authorization === 'Basic ' + Buffer.from('u:p').toString('base64')) return { id: ++users };
        if (req.headers['x-teapot']) throw Object.assign(new Error('short and stout'), { status: 418, headers: { 'x-why': 'tea' } });
        return false;
      },
    });
    const auth = { authorization: 'Basic ' + Buffer.from('u:p').toString('base64') };
    expect((await refusal(port, connectHeaders('/other', auth))).status).toBe(404);
    expect((await refusal(port, connectHeaders('/ws', { ...auth, 'x-pass': 'no' }))).status).toBe(401);
    expect((await refusal(port, connectHeaders('/ws'))).status).toBe(401);
    const teapot = await refusal(port, connectHeaders('/ws', { 'x-teapot': '1' }));
    expect([teapot.status, teapot.headers['x-why'], teapot.body]).toEqual([418, 'tea', 'short and stout']);
    expect((await refusal(port, connectHeaders('/ws', { ...auth, origin: 'https://evil.example' }))).status).toBe(403);
    const users_: unknown[] = [];
    wss.on('connection', (ws) => users_.push(ws.user));
    const a = await connect(`wss://u:p@localhost:${port}/ws`, { ca: certificate.cert, http2: true, origin: 'https://good.example' });
    const b = await connect(`${url}/ws`, { ca: certificate.cert, http2: true, headers: auth });
    defer(() => a.terminate());
    defer(() => b.terminate());
    expect(users_).toEqual([{ id: 1 }, { id: 2 }]);
    const full = await refusal(port, connectHeaders('/ws', auth));
    expect([full.status, full.headers['retry-after']]).toEqual([503, '5']);
    // maxPayload: the same close code as over HTTP/1.1.
    const gone = closed(a);
    a.send('y'.repeat(101));
    expect((await gone).code).toBe(1009);
    expect(wss.stats().handshakesRefused).toEqual({ 401: 2, 403: 1, 404: 1, 418: 1, 503: 1 });
  });

  it('close() closes the WebSockets over HTTP/2 with 1001 and leaves the app\'s server serving', async () => {
    const { wss, port, url } = await appServer();
    const ws = await connect(url, { ca: certificate.cert, http2: true });
    const gone = closed(ws);
    await wss.close();
    expect((await gone).code).toBe(1001);
    const { session } = await h2Session(defer, port, certificate);
    const page = await request(session, { ':path': '/' });
    expect(page.response[':status']).toBe(200);
  });
});

describe('policies over HTTP/2', () => {
  it('heartbeat: a peer that never answers pings is cut off with RST_STREAM CANCEL (1006 on our side); the session lives on', async () => {
    const { server, port } = await startTlsEchoServer(defer, certificate, { heartbeat: { interval: 50, timeout: 50 } });
    const serverSide = new Promise<ReturnType<typeof closed>>((resolve) => server.once('connection', (ws) => resolve(closed(ws))));
    const { session } = await h2Session(defer, port, certificate);
    const { stream, response } = await request(session, connectHeaders('/'));
    expect(response[':status']).toBe(200);
    // A raw peer that reads frames but answers nothing.
    const reader = new FrameReader(stream as never, undefined, { mask: true });
    await reader.closed;
    expect(reader.frames.some((f) => f.opcode === OP.ping)).toBe(true);
    expect(stream.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    const c = await (await serverSide);
    expect(c.code).toBe(1006);
    const again = await request(session, connectHeaders('/'));
    expect(again.response[':status']).toBe(200);
    again.stream.close(http2.constants.NGHTTP2_CANCEL);
  });
});

describe('the standalone TLS server speaks both protocols on its port', () => {
  it('ALPN h2 and http/1.1 on one port; a request that is not a WebSocket gets a precise answer', async () => {
    const { server, port, url } = await startTlsEchoServer(defer, certificate);
    const versions: string[] = [];
    server.on('connection', (_ws, req) => versions.push(req.httpVersion));
    const h2 = await connect(url, { ca: certificate.cert, http2: true });
    const h1 = await connect(url, { ca: certificate.cert });
    defer(() => h2.terminate());
    defer(() => h1.terminate());
    expect(versions).toEqual(['2.0', '1.1']);
    const get = await refusal(port, { ':path': '/' });
    expect(get.status).toBe(400);
    expect(get.body).toMatch(/extended CONNECT/);
    // close() also ends the HTTP/2 sessions, so that the port closes.
    await server.close();
  });
});

describe('the client falls back to HTTP/1.1 when the server does not take WebSockets over HTTP/2', () => {
  it('an https server (no h2 by ALPN): http2: true connects over HTTP/1.1; { fallback: false } fails', async () => {
    const server = https.createServer({ key: certificate.key, cert: certificate.cert });
    const wss = echo(new WebSocketServer({ server }));
    defer(() => wss.close({ timeout: 100 }));
    const port = await listen(server);
    const versions: string[] = [];
    wss.on('connection', (_ws, req) => versions.push(req.httpVersion));
    const ws = await connect(`wss://localhost:${port}`, { ca: certificate.cert, http2: true });
    defer(() => ws.terminate());
    expect(versions).toEqual(['1.1']);
    await expect(connect(`wss://localhost:${port}`, { ca: certificate.cert, http2: { fallback: false } })).rejects.toThrow(/HTTP\/2/);
  });

  it('an h2 server that does not announce the setting: HTTP/1.1 on the same port', async () => {
    const server = http2.createSecureServer({ key: certificate.key, cert: certificate.cert, allowHTTP1: true });
    const wss = echo(new WebSocketServer({ noServer: true }));
    defer(() => wss.close({ timeout: 100 }));
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
    const port = await listen(server);
    const { settings } = await h2Session(defer, port, certificate);
    expect(settings.enableConnectProtocol).toBeFalsy();
    const ws = await connect(`wss://localhost:${port}`, { ca: certificate.cert, http2: true });
    defer(() => ws.terminate());
    const reply = nextMessage(ws);
    ws.send('over 1.1');
    expect((await reply).data.toString()).toBe('over 1.1');
    await expect(connect(`wss://localhost:${port}`, { ca: certificate.cert, http2: { fallback: false } })).rejects.toThrow(/SETTINGS_ENABLE_CONNECT_PROTOCOL/);
  });
});
