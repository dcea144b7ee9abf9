// followRedirects across servers, with ws's rule for credentials: without a 'redirect' listener,
// Authorization, Cookie and Host (and the `auth` option) are not sent to another server; with one,
// nothing is dropped: the listener, handed the new request, decides (removeHeader), as in ws.
import type * as http from 'node:http';
import { describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { startHttpServer, startServer } from '../helpers/server.js';
import { closed } from '../helpers/wait.js';

const defer = useCleanup();

/** A server on `localhost` that redirects every upgrade to a WebSocket server on 127.0.0.1 (another host). */
async function crossServer(): Promise<{ from: string; to: string; headers: Promise<http.IncomingHttpHeaders> }> {
  const target = await startServer(defer);
  const headers = new Promise<http.IncomingHttpHeaders>((resolve) => {
    target.server.on('connection', (ws, req) => {
      resolve(req.headers);
      ws.close();
    });
  });
  const { server, port } = await startHttpServer(defer);
  server.on('upgrade', (_req, socket) => socket.end(`HTTP/1.1 302 Found\r\nLocation: ${target.url}/\r\n\r\n`));
  return { from: `ws://localhost:${port}`, to: `${target.url}/`, headers };
}

const credentials = { authorization: 'Basic Zm9vOmJhcg==', cookie: 'foo=bar' };

describe('redirects to another server', () => {
  it('without a redirect listener: Authorization and Cookie are not sent there, Host names the new server', async () => {
    const { from, to, headers } = await crossServer();
    const ws = new WebSocket(from, { followRedirects: true, headers: { ...credentials, host: 'first' } });
    defer(() => ws.terminate());
    const got = await headers;
    expect(got.authorization).toBeUndefined();
    expect(got.cookie).toBeUndefined();
    expect(got.host).toBe(new URL(to).host);
    expect(ws.url).toBe(to);
    await closed(ws);
  });

  it('with a redirect listener: nothing is dropped, the listener sees the headers on the new request', async () => {
    const { from, to, headers } = await crossServer();
    const ws = new WebSocket(from, { followRedirects: true, headers: credentials });
    defer(() => ws.terminate());
    const seen: unknown[] = [];
    ws.on('redirect', (url, req) => seen.push(url, req.getHeader('authorization'), req.getHeader('cookie')));
    const got = await headers;
    expect(seen).toEqual([to, credentials.authorization, credentials.cookie]);
    expect(got.authorization).toBe(credentials.authorization);
    expect(got.cookie).toBe(credentials.cookie);
    await closed(ws);
  });

  it('with a redirect listener: what it removes is not sent', async () => {
    const { from, headers } = await crossServer();
    const ws = new WebSocket(from, { followRedirects: true, headers: credentials });
    defer(() => ws.terminate());
    ws.on('redirect', (_url, req) => {
      req.removeHeader('authorization');
      req.removeHeader('cookie');
    });
    const got = await headers;
    expect(got.authorization).toBeUndefined();
    expect(got.cookie).toBeUndefined();
    await closed(ws);
  });

  it('the auth option: dropped without a listener, kept with one', async () => {
    for (const listen of [false, true]) {
      const { from, headers } = await crossServer();
      const ws = new WebSocket(from, { followRedirects: true, auth: 'foo:bar' });
      defer(() => ws.terminate());
      if (listen) ws.on('redirect', () => {});
      const got = await headers;
      expect(got.authorization, listen ? 'with a listener' : 'without').toBe(listen ? 'Basic Zm9vOmJhcg==' : undefined);
      await closed(ws);
    }
  });
});
