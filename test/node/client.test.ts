// The client's opening handshake (RFC 6455 §4.1) against our server, plain HTTP servers and raw
// servers that answer by hand: failures carry the HTTP status, timeouts and aborts reject,
// subprotocols are checked, and wss:// works with a trusted certificate and only with one.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, HandshakeError, WebSocket, WebSocketServer, type VerifyInfo } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { accept101, frame, FrameReader, headerValue, OP, startRawServer } from '../helpers/raw.js';
import { startEchoServer, startHttpServer, startServer } from '../helpers/server.js';
import { closed, nextMessage } from '../helpers/wait.js';

const defer = useCleanup();

async function rejection(promise: Promise<unknown>): Promise<HandshakeError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HandshakeError);
  return error as HandshakeError;
}

describe('handshake failures reject connect() with a HandshakeError', () => {
  it('403 from verifyClient carries the status', async () => {
    const { url } = await startEchoServer(defer, { verifyClient: (_info: unknown, cb: (ok: boolean, code: number) => void) => cb(false, 403) });
    const error = await rejection(connect(url));
    expect(error.status).toBe(403);
    expect(error.message).toMatch(/403/);
  });

  it('404 for a wrong path carries the status', async () => {
    const { url } = await startEchoServer(defer, { path: '/ws' });
    expect((await rejection(connect(`${url}/elsewhere`))).status).toBe(404);
  });

  it('401 with headers from a ws-style verifyClient', async () => {
    const { url } = await startEchoServer(defer, {
      verifyClient: (_info, cb: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void) =>
        cb(false, 401, 'no', { 'WWW-Authenticate': 'Bearer' }),
    });
    const error = await rejection(connect(url));
    expect(error.status).toBe(401);
    expect(error.headers?.['www-authenticate']).toBe('Bearer');
  });

  it('an HTTP server that does not speak WebSocket (200) → status 200', async () => {
    const { port } = await startHttpServer(defer, (_req, res) => res.end('just a web page'));
    expect((await rejection(connect(`ws://127.0.0.1:${port}`))).status).toBe(200);
  });

  it('an HTTP server answering 302 → status 302 (redirects are not followed)', async () => {
    const { port } = await startHttpServer(defer, (_req, res) => res.writeHead(302, { Location: '/x' }).end());
    expect((await rejection(connect(`ws://127.0.0.1:${port}`))).status).toBe(302);
  });

  it('nothing listening → rejects; the WebSocket closes with 1006', async () => {
    const { url, server } = await startServer(defer);
    await server.close();
    const ws = new WebSocket(url);
    const errored = new Promise<Error>((resolve) => ws.once('error', resolve));
    expect(await closed(ws)).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(await errored).toBeInstanceOf(HandshakeError);
  });

  const bad101: Array<[string, (request: string) => string, RegExp]> = [
    ['a wrong Sec-WebSocket-Accept', () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n', /Accept/],
    ['no Sec-WebSocket-Accept', () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', /Accept/],
    ['Upgrade: h2c', (r) => accept101(r).replace('Upgrade: websocket', 'Upgrade: h2c'), /Upgrade/],
    ['a subprotocol that was not offered', (r) => accept101(r, ['Sec-WebSocket-Protocol: evil']), /not offered/],
    ['an extension that was not offered', (r) => accept101(r, ['Sec-WebSocket-Extensions: x-foo']), /not offered/],
  ];
  for (const [name, answer, message] of bad101) {
    it(`a 101 with ${name} is rejected and the socket closed`, async () => {
      let socketClosed!: Promise<void>;
      const { port } = await startRawServer(defer, (socket, request) => {
        socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
        socket.write(answer(request));
      });
      const error = await rejection(connect(`ws://127.0.0.1:${port}`, { protocols: ['good'], perMessageDeflate: false }));
      expect(error.message).toMatch(message);
      await socketClosed;
    });
  }

  it('the server sending a subprotocol when none was offered is rejected', async () => {
    const { port } = await startRawServer(defer, (socket, request) => socket.write(accept101(request, ['Sec-WebSocket-Protocol: chat'])));
    await rejection(connect(`ws://127.0.0.1:${port}`));
  });

  it('a server subprotocol chosen by handleProtocols but not offered is rejected by our client', async () => {
    const { url } = await startEchoServer(defer, { handleProtocols: () => 'imposed' });
    expect((await rejection(connect(url, { protocols: ['a'] }))).message).toMatch(/not offered/);
  });
});

describe('timeouts and aborts', () => {
  it('a server that never answers: handshakeTimeout rejects in time', async () => {
    const { port } = await startRawServer(defer, () => {});
    const started = Date.now();
    const error = await rejection(connect(`ws://127.0.0.1:${port}`, { handshakeTimeout: 200 }));
    const elapsed = Date.now() - started;
    expect(error.message).toMatch(/timed out/);
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(5000);
  });

  it('handshakeTimeout also covers a server that accepts TCP but trickles the head', async () => {
    const { port } = await startRawServer(defer, (socket) => socket.write('HTTP/1.1 101 Switching'));
    const error = await rejection(connect(`ws://127.0.0.1:${port}`, { handshakeTimeout: 200 }));
    expect(error.message).toMatch(/timed out/);
  });

  it('an AbortSignal aborts a pending handshake', async () => {
    const { port, sockets } = await startRawServer(defer, () => {});
    const controller = new AbortController();
    const pending = connect(`ws://127.0.0.1:${port}`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const error = await rejection(pending);
    expect(error.message).toMatch(/abort/i);
    // The TCP connection it had opened is gone too.
    await new Promise((r) => setTimeout(r, 50));
    expect(sockets.size).toBe(0);
  });

  it('an already-aborted signal rejects without connecting', async () => {
    const { url, server } = await startEchoServer(defer);
    let connections = 0;
    server.on('connection', () => connections++);
    await rejection(connect(url, { signal: AbortSignal.abort() }));
    await new Promise((r) => setTimeout(r, 50));
    expect(connections).toBe(0);
  });

  it('aborting after open does nothing', async () => {
    const { url } = await startEchoServer(defer);
    const controller = new AbortController();
    const ws = await connect(url, { signal: controller.signal });
    defer(() => ws.terminate());
    controller.abort();
    const reply = nextMessage(ws);
    ws.send('still open');
    expect((await reply).data.toString()).toBe('still open');
  });
});

describe('what the client sends', () => {
  it('a correct request: GET, Host, Upgrade, Connection, a 16-byte key, version 13, protocols, custom headers', async () => {
    let request = '';
    const { port } = await startRawServer(defer, (socket, req) => {
      request = req;
      socket.write(accept101(req, ['Sec-WebSocket-Protocol: b']));
    });
    const ws = await connect(`ws://127.0.0.1:${port}/path?q=1`, {
      protocols: ['a', 'b'],
      headers: { 'X-Custom': 'yes', Authorization: 'Bearer t' },
      origin: 'https://example.org',
      perMessageDeflate: false,
    });
    defer(() => ws.terminate());
    expect(request.split('\r\n')[0]).toBe('GET /path?q=1 HTTP/1.1');
    expect(headerValue(request, 'host')).toBe(`127.0.0.1:${port}`);
    expect(headerValue(request, 'upgrade')).toBe('websocket');
    expect(headerValue(request, 'connection')).toBe('Upgrade');
    expect(Buffer.from(headerValue(request, 'sec-websocket-key')!, 'base64').length).toBe(16);
    expect(headerValue(request, 'sec-websocket-version')).toBe('13');
    expect(headerValue(request, 'sec-websocket-protocol')).toBe('a, b');
    expect(headerValue(request, 'x-custom')).toBe('yes');
    expect(headerValue(request, 'authorization')).toBe('Bearer t');
    expect(headerValue(request, 'origin')).toBe('https://example.org');
    expect(headerValue(request, 'sec-websocket-extensions')).toBeUndefined();
    expect(ws.protocol).toBe('b');
  });

  it('keys differ between connections; every frame is masked, with fresh mask keys', async () => {
    const keys: string[] = [];
    const readers: FrameReader[] = [];
    const { port } = await startRawServer(defer, (socket, req) => {
      keys.push(headerValue(req, 'sec-websocket-key')!);
      socket.write(accept101(req));
      readers.push(new FrameReader(socket));
    });
    const a = await connect(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    const b = await connect(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    defer(() => a.terminate());
    defer(() => b.terminate());
    expect(keys[0]).not.toBe(keys[1]);
    for (let i = 0; i < 8; i++) a.send('same payload');
    const reader = readers[0];
    await new Promise((r) => setTimeout(r, 50));
    const texts = reader.frames.filter((f) => f.opcode === OP.text);
    expect(texts.length).toBe(8);
    expect(texts.every((f) => f.masked && f.payload.toString() === 'same payload')).toBe(true);
    // The raw bytes on the wire differ although the payloads are the same: the mask keys differ.
    const wire = new Set<string>();
    reader.socket.removeAllListeners('data');
    // Each frame is 18 bytes on the wire: 2 of header, 4 of mask key, 12 of payload.
    let bytes = Buffer.alloc(0);
    await new Promise<void>((resolve) => {
      reader.socket.on('data', (chunk: Buffer) => {
        bytes = Buffer.concat([bytes, chunk]);
        if (bytes.length < 4 * 18) return;
        for (let i = 0; i < 4; i++) wire.add(bytes.subarray(i * 18, i * 18 + 18).toString('hex'));
        resolve();
      });
      for (let i = 0; i < 4; i++) a.send('same payload');
    });
    expect(wire.size).toBe(4);
  });

  it('custom headers and the request reach our server', async () => {
    const { server, url } = await startServer(defer);
    const seen = new Promise<Record<string, unknown>>((resolve) => server.once('connection', (_ws, req) => resolve(req.headers)));
    const ws = await connect(`${url}/room`, { headers: { 'X-Trace-Id': 'abc123', Cookie: 'session=1' } });
    defer(() => ws.terminate());
    const headers = await seen;
    expect(headers['x-trace-id']).toBe('abc123');
    expect(headers.cookie).toBe('session=1');
  });

  it('bytes that arrive with the 101 (a frame in the same write) are delivered, not lost', async () => {
    const { port } = await startRawServer(defer, (socket, req) => {
      socket.write(Buffer.concat([Buffer.from(accept101(req)), frame(OP.text, 'right behind the 101', { mask: false })]));
    });
    const ws = await connect(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    defer(() => ws.terminate());
    expect((await nextMessage(ws)).data.toString()).toBe('right behind the 101');
  });

  it('user:password in the URL becomes Basic authorization', async () => {
    const { server, url } = await startServer(defer);
    const seen = new Promise<string | undefined>((resolve) => server.once('connection', (_ws, req) => resolve(req.headers.authorization)));
    const ws = await connect(url.replace('ws://', 'ws://ada:s%40cret@'));
    defer(() => ws.terminate());
    expect(await seen).toBe(`Basic ${Buffer.from('ada:s@cret').toString('base64')}`);
  });

  it('bad URLs and protocol lists throw synchronously', () => {
    expect(() => new WebSocket('ftp://127.0.0.1/')).toThrow(SyntaxError);
    expect(() => new WebSocket('not a url')).toThrow(SyntaxError);
    expect(() => new WebSocket('ws://127.0.0.1/#frag')).toThrow(SyntaxError);
    expect(() => new WebSocket('ws://127.0.0.1:1/', ['a', 'a'])).toThrow(SyntaxError);
  });
});

describe('subprotocols end to end', () => {
  it('offered as a string or an array; new WebSocket(url, protocols) too', async () => {
    const { server, url } = await startEchoServer(defer, { handleProtocols: (set) => (set.has('v2') ? 'v2' : false) });
    const a = await connect(url, { protocols: 'v2' });
    const b = new WebSocket(url, ['v1', 'v2']);
    defer(() => a.terminate());
    defer(() => b.terminate());
    await new Promise<void>((resolve) => b.once('open', () => resolve()));
    expect(a.protocol).toBe('v2');
    expect(b.protocol).toBe('v2');
    const c = await connect(url, { protocols: ['v1'] });
    defer(() => c.terminate());
    expect(c.protocol).toBe('');
    expect(server.clients.size).toBe(3);
  });
});

describe('wss://', () => {
  let dir: string;
  let key: Buffer;
  let cert: Buffer;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rfc6455-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ], { stdio: 'ignore' });
    key = readFileSync(join(dir, 'key.pem'));
    cert = readFileSync(join(dir, 'cert.pem'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function tlsServer(): Promise<{ port: number; wss: WebSocketServer }> {
    const httpsServer = https.createServer({ key, cert });
    defer(() => {
      httpsServer.closeAllConnections();
      return new Promise<void>((resolve) => httpsServer.close(() => resolve()));
    });
    const wss = new WebSocketServer({ server: httpsServer });
    defer(() => wss.close({ timeout: 100 }));
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
    return { port: (httpsServer.address() as AddressInfo).port, wss };
  }

  it('with the CA: connects, and messages round-trip over TLS', async () => {
    const { port, wss } = await tlsServer();
    const secure = new Promise<boolean>((resolve) => {
      wss.once('connection', (_ws, req) => resolve(Boolean((req.socket as { encrypted?: boolean }).encrypted)));
    });
    for (const host of ['127.0.0.1', 'localhost']) {
      const ws = await connect(`wss://${host}:${port}/`, { ca: cert });
      defer(() => ws.terminate());
      const reply = nextMessage(ws);
      ws.send(Buffer.alloc(100_000, 5));
      const { data, isBinary } = await reply;
      expect(isBinary).toBe(true);
      expect(data.length).toBe(100_000);
      const done = closed(ws);
      ws.close(1000);
      expect((await done).wasClean).toBe(true);
    }
    expect(await secure).toBe(true);
  });

  it('without the CA: rejects (untrusted certificate), nothing connects', async () => {
    const { port, wss } = await tlsServer();
    let connections = 0;
    wss.on('connection', () => connections++);
    const error = await rejection(connect(`wss://127.0.0.1:${port}/`));
    expect(error.message).toMatch(/self[- ]signed|certificate/i);
    expect(connections).toBe(0);
  });

  it('verifyClient sees secure: true; a standalone TLS server with key/cert works too', async () => {
    let secure: boolean | undefined;
    const { port } = await startServer(defer, { key, cert, verifyClient: (info: VerifyInfo) => ((secure = info.secure), true) });
    const ws = await connect(`wss://localhost:${port}`, { ca: cert });
    defer(() => ws.terminate());
    expect(secure).toBe(true);
    const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
    ws.ping('tls');
    expect((await pong).toString()).toBe('tls');
  });
});

describe('a masked frame from a server', () => {
  it('our client closes with 1002 and sends a masked close frame', async () => {
    let reader!: FrameReader;
    const { port } = await startRawServer(defer, (socket, req) => {
      socket.write(accept101(req));
      reader = new FrameReader(socket);
      socket.on('end', () => socket.end());
      socket.write(frame(OP.text, 'masked!', { mask: true }));
    });
    const ws = await connect(`ws://127.0.0.1:${port}`, { perMessageDeflate: false, closeTimeout: 1000 });
    ws.on('error', () => {});
    let messages = 0;
    ws.on('message', () => messages++);
    expect(await closed(ws)).toMatchObject({ code: 1002, wasClean: false });
    const close = await reader.next(OP.close);
    expect(close.masked).toBe(true);
    expect(close.payload.readUInt16BE(0)).toBe(1002);
    expect(messages).toBe(0);
  });
});
