/**
 * The client through a real tinyproxy: ws:// and wss:// tunnelled with CONNECT (the proxy's log
 * shows the tunnel; TLS stays end to end), the environment variables and NO_PROXY, proxy auth and
 * the proxy's refusals surfaced as HandshakeError statuses, and a silent proxy timed out.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { connect, HandshakeError, WebSocketServer, type WebSocket } from '../../src/index.js';
import { useCertificate } from '../helpers/certificate.js';
import { useCleanup } from '../helpers/cleanup.js';
import { startEchoServer } from '../helpers/server.js';
import { freePort, hasTinyproxy, startTinyproxy } from '../helpers/tinyproxy.js';
import { next, socketClosed } from '../helpers/wait.js';

const defer = useCleanup();

const certificate = useCertificate();

/** Sets environment variables for one test; restored (or removed) at cleanup. */
function setEnv(values: Record<string, string>): void {
  const names = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy'];
  const saved = new Map(names.map((name) => [name, process.env[name]]));
  for (const name of names) delete process.env[name];
  Object.assign(process.env, values);
  defer(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
}

async function echoOnce(ws: WebSocket, text: string): Promise<string> {
  ws.send(text);
  const [data] = await next<[Buffer]>(ws, 'message');
  return data.toString();
}

async function wssEchoServer(): Promise<{ server: WebSocketServer; port: number }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', key: certificate.key, cert: certificate.cert });
  defer(() => server.close({ timeout: 100 }));
  await once(server, 'listening');
  server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return { server, port: (server.address() as net.AddressInfo).port };
}

const tunnels = (log: string, port: number) => log.split('\n').filter((line) => line.includes(`CONNECT 127.0.0.1:${port} `)).length;

describe.skipIf(!hasTinyproxy)(`through tinyproxy${hasTinyproxy ? '' : ' (skipped: the tinyproxy binary is not installed)'}`, () => {
  it('ws:// with the proxy option goes through a CONNECT tunnel and carries messages both ways', async () => {
    const { port } = await startEchoServer(defer);
    const proxy = await startTinyproxy(defer, { connectPorts: [port] });
    const ws = await connect(`ws://127.0.0.1:${port}/chat?room=1`, { proxy: proxy.url });
    defer(() => ws.terminate());
    expect(await echoOnce(ws, 'through the tunnel')).toBe('through the tunnel');
    const big = 'y'.repeat(300_000);
    expect(await echoOnce(ws, big)).toBe(big);
    expect(tunnels(proxy.log(), port)).toBe(1);
  });

  it('wss:// with HTTPS_PROXY: TLS to the server over the tunnel, the certificate checked against the target', async () => {
    const { server, port } = await wssEchoServer();
    const proxy = await startTinyproxy(defer, { connectPorts: [port] });
    setEnv({ HTTPS_PROXY: proxy.url, HTTP_PROXY: 'http://127.0.0.1:1' });
    const encrypted: boolean[] = [];
    server.on('connection', (_ws, req) => encrypted.push(Boolean((req.socket as tls.TLSSocket).encrypted)));
    for (const host of ['localhost', '127.0.0.1']) {
      const ws = await connect(`wss://${host}:${port}/`, { ca: certificate.cert });
      defer(() => ws.terminate());
      expect(await echoOnce(ws, `TLS to ${host}`)).toBe(`TLS to ${host}`);
    }
    expect(encrypted).toEqual([true, true]);
    expect(proxy.log()).toContain(`CONNECT localhost:${port} `);
    expect(tunnels(proxy.log(), port)).toBe(1);
  });

  it('wss:// through the tunnel still refuses an untrusted certificate', async () => {
    const { server, port } = await wssEchoServer();
    const proxy = await startTinyproxy(defer, { connectPorts: [port] });
    let connections = 0;
    server.on('connection', () => connections++);
    const error = await connect(`wss://localhost:${port}/`, { proxy: proxy.url }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as Error).message).toMatch(/self[- ]signed certificate/i);
    expect(connections).toBe(0);
    expect(proxy.log()).toContain(`CONNECT localhost:${port} `);
  });

  it('ws:// with HTTP_PROXY; NO_PROXY naming the host bypasses it; proxy: false ignores the environment', async () => {
    const { port } = await startEchoServer(defer);
    const proxy = await startTinyproxy(defer, { connectPorts: [port] });
    setEnv({ HTTP_PROXY: proxy.url, NO_PROXY: 'example.com, .internal' });
    const tunnelled = await connect(`ws://127.0.0.1:${port}/`);
    defer(() => tunnelled.terminate());
    expect(tunnels(proxy.log(), port)).toBe(1);

    process.env.NO_PROXY = `example.com, 127.0.0.1:${port}`;
    const direct = await connect(`ws://127.0.0.1:${port}/`);
    defer(() => direct.terminate());
    expect(await echoOnce(direct, 'direct')).toBe('direct');
    delete process.env.NO_PROXY;
    const unproxied = await connect(`ws://127.0.0.1:${port}/`, { proxy: false });
    defer(() => unproxied.terminate());
    expect(tunnels(proxy.log(), port)).toBe(1);
  });

  it('proxy Basic auth: the URL credentials are sent; missing or wrong ones surface 407', async () => {
    const { port } = await startEchoServer(defer);
    const proxy = await startTinyproxy(defer, { connectPorts: [port], basicAuth: { user: 'alice', password: 's3cret' } });
    const target = `ws://127.0.0.1:${port}/`;
    const missing = await connect(target, { proxy: proxy.url }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(HandshakeError);
    expect((missing as HandshakeError).status).toBe(407);
    expect((missing as HandshakeError).headers?.['proxy-authenticate']).toMatch(/^Basic/i);
    expect((missing as Error).message).toMatch(/407 Proxy Authentication Required/);
    // tinyproxy 1.11 answers wrong credentials with 401 (and WWW-Authenticate), not 407: the
    // client reports whatever status the proxy sent.
    const wrong = await connect(target, { proxy: `http://alice:wrong@127.0.0.1:${proxy.port}` }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(HandshakeError);
    expect((wrong as HandshakeError).status).toBeOneOf([401, 407]);
    const ws = await connect(target, { proxy: `http://alice:s3cret@127.0.0.1:${proxy.port}` });
    defer(() => ws.terminate());
    expect(await echoOnce(ws, 'authorized')).toBe('authorized');
  });

  it("a port the proxy does not allow CONNECT to surfaces the proxy's 403", async () => {
    const { port } = await startEchoServer(defer);
    const proxy = await startTinyproxy(defer, { connectPorts: [port + 1 === 65536 ? port - 1 : port + 1] });
    const error = await connect(`ws://127.0.0.1:${port}/`, { proxy: proxy.url }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).status).toBe(403);
  });
});

describe('proxies without tinyproxy', () => {
  it('HTTP_PROXY at a closed port fails the handshake unless NO_PROXY names the host', async () => {
    const { port } = await startEchoServer(defer);
    const dead = await freePort();
    setEnv({ HTTP_PROXY: `127.0.0.1:${dead}`, NO_PROXY: 'localhost' });
    const error = await connect(`ws://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    process.env.NO_PROXY = 'localhost,127.0.0.1';
    const ws = await connect(`ws://127.0.0.1:${port}/`);
    defer(() => ws.terminate());
    expect(await echoOnce(ws, 'bypassed')).toBe('bypassed');
  });

  it('a proxy that never answers CONNECT: the handshake times out and the proxy connection is closed', async () => {
    const silent = net.createServer();
    const accepted: net.Socket[] = [];
    // Reading, so that it sees the client's FIN.
    silent.on('connection', (socket) => accepted.push(socket.resume()));
    defer(() => new Promise((resolve) => silent.close(resolve)));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const proxyPort = (silent.address() as net.AddressInfo).port;
    const started = Date.now();
    const error = await connect('ws://127.0.0.1:9/', { proxy: `http://127.0.0.1:${proxyPort}`, handshakeTimeout: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(accepted).toHaveLength(1);
    await socketClosed(accepted[0]);
  });

  it('an abort signal closes the connection to a proxy that has not answered', async () => {
    const silent = net.createServer();
    const accepted: net.Socket[] = [];
    const requests: string[] = [];
    silent.on('connection', (socket) => {
      accepted.push(socket);
      socket.on('data', (chunk) => requests.push(chunk.toString('latin1')));
    });
    defer(() => new Promise((resolve) => silent.close(resolve)));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const proxyPort = (silent.address() as net.AddressInfo).port;
    const controller = new AbortController();
    const pending = connect('ws://[::1]:8080/', { proxy: `http://u%40x:p%3Aw@127.0.0.1:${proxyPort}`, signal: controller.signal }).catch((e: unknown) => e);
    await next(silent, 'connection');
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    expect(await pending).toBeInstanceOf(HandshakeError);
    await socketClosed(accepted[0]);
    const head = requests.join('');
    expect(head.startsWith('CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n')).toBe(true);
    expect(head).toContain(`Proxy-Authorization: Basic ${Buffer.from('u@x:p:w').toString('base64')}\r\n`);
  });
});
