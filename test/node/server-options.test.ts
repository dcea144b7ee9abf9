// Server options and events as in ws: clientTracking, autoPong, a WebSocket subclass, close()
// semantics, handleUpgrade twice, allowedOrigins, 'headers' and 'wsClientError'.
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer, connect } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { OP, RawClient, frame, rawRequest, upgradeRequest } from '../helpers/raw.js';
import { nextConnection, startEchoServer, startHttpServer, startServer } from '../helpers/server.js';
import { delay, once, withDeadline } from '../helpers/wait.js';

const defer = useCleanup();

describe('clientTracking', () => {
  it('false: clients stays empty, connections still work, maxConnections still counts them', async () => {
    const { server, port, url } = await startEchoServer(defer, { clientTracking: false, maxConnections: 1 });
    const accepted = nextConnection(server);
    const client = await connect(url);
    defer(() => client.terminate());
    await accepted;
    expect(server.clients.size).toBe(0);
    client.send('still echoed');
    const [data] = await once<[Buffer]>(client, 'message');
    expect(data.toString()).toBe('still echoed');
    expect((await rawRequest(port, upgradeRequest(port))).status).toBe(503);
    expect(() => server.broadcast('x')).toThrow(/clientTracking/);
  });

  it('default: clients holds the open connections', async () => {
    const { server, url } = await startServer(defer);
    const accepted = nextConnection(server);
    const client = await connect(url);
    defer(() => client.terminate());
    expect(server.clients.has(await accepted)).toBe(true);
  });
});

describe('autoPong', () => {
  /** Opcodes the server sent back for a ping followed by a text frame (echoed: it comes after any pong). */
  async function pingAnswer(autoPong: boolean | undefined): Promise<number[]> {
    const { server, port } = await startEchoServer(defer, autoPong === undefined ? {} : { autoPong });
    const pings: string[] = [];
    server.on('connection', (ws) => ws.on('ping', (data) => pings.push(data.toString())));
    const raw = await RawClient.open(port, {}, defer);
    raw.send(frame(OP.ping, 'are you there'), frame(OP.text, 'after the ping'));
    await raw.next(OP.text);
    expect(pings).toEqual(['are you there']);
    return raw.frames.map((f) => f.opcode);
  }

  it('false: a ping is reported and not answered', async () => {
    expect(await pingAnswer(false)).not.toContain(OP.pong);
  });

  it('default: a ping is answered with a pong', async () => {
    expect(await pingAnswer(undefined)).toContain(OP.pong);
  });
});

describe('the WebSocket option', () => {
  it('accepted connections are instances of the given subclass', async () => {
    class Tagged extends WebSocket {
      readonly tag = 'mine';
      greet(): void {
        this.send(`hello from ${this.tag}`);
      }
    }
    // Made here rather than by startServer, so the connection's type is inferred from the option.
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', WebSocket: Tagged });
    defer(() => server.close({ timeout: 100 }));
    await once(server, 'listening');
    server.on('connection', (ws) => {
      expect(ws).toBeInstanceOf(Tagged);
      ws.greet();
    });
    const client = await connect(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
    defer(() => client.terminate());
    const [data] = await once<[Buffer]>(client, 'message');
    expect(data.toString()).toBe('hello from mine');
  });

  it('a class whose constructor throws makes the handshake a 500 and an upgradeError', async () => {
    class Broken extends WebSocket {
      constructor() {
        super();
        throw new Error('no');
      }
    }
    const { server, port } = await startServer(defer, { WebSocket: Broken });
    const errors: unknown[] = [];
    server.on('upgradeError', (error) => errors.push(error));
    expect((await rawRequest(port, upgradeRequest(port))).status).toBe(500);
    expect(errors).toHaveLength(1);
  });
});

describe('close()', () => {
  it("emits 'close' once while closing; a callback after it has closed gets an error, and the promise still resolves", async () => {
    const { server } = await startServer(defer);
    let closes = 0;
    server.on('close', () => closes++);
    const callbacks: Array<Error | undefined> = [];
    const first = server.close((error) => callbacks.push(error));
    const during = server.close((error) => callbacks.push(error));
    await Promise.all([first, during]);
    await delay(10);
    expect(callbacks).toEqual([undefined, undefined]);
    const after = await new Promise<Error | undefined>((resolve) => void server.close(resolve));
    expect(after).toBeInstanceOf(Error);
    expect(after!.message).toMatch(/not running/);
    await withDeadline(server.close(), 1000, 'close() promise after close');
    await delay(20);
    // Each close() once closed says 'close' again (as in ws): code that calls close() and waits for
    // the event does not hang when the server had already closed.
    expect(closes).toBe(3);
  });

  it('clientTracking false: resolves without waiting for connections it does not know', async () => {
    const { server, url } = await startServer(defer, { clientTracking: false });
    const accepted = nextConnection(server);
    const client = await connect(url);
    defer(() => client.terminate());
    const ws = await accepted;
    await withDeadline(server.close(), 2000, 'close()');
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });
});

describe('handleUpgrade', () => {
  it('called twice with one socket throws, and the first handshake completes', async () => {
    const wss = new WebSocketServer({ noServer: true });
    defer(() => wss.close());
    const second: unknown[] = [];
    const { server, port } = await startHttpServer(defer);
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      wss.handleUpgrade(req, socket, head, (ws) => ws.send('first'));
      try {
        wss.handleUpgrade(req, socket, head, () => undefined);
      } catch (error) {
        second.push(error);
      }
    });
    const client = await connect(`ws://127.0.0.1:${port}`);
    defer(() => client.terminate());
    const [data] = await once<[Buffer]>(client, 'message');
    expect(data.toString()).toBe('first');
    expect(second).toHaveLength(1);
    expect((second[0] as Error).message).toMatch(/more than once/);
  });


  it('two servers attached to one http server for the same path: the second reports an error, the first serves', async () => {
    const { server, port } = await startHttpServer(defer);
    const first = new WebSocketServer({ server });
    const second = new WebSocketServer({ server });
    defer(() => Promise.all([first.close(), second.close()]));
    first.on('connection', (ws) => ws.send('first'));
    const errors: Error[] = [];
    second.on('error', (error) => errors.push(error));
    const client = await connect(`ws://127.0.0.1:${port}`);
    defer(() => client.terminate());
    const [data] = await once<[Buffer]>(client, 'message');
    expect(data.toString()).toBe('first');
    expect(errors.map((error) => error.message)).toEqual([expect.stringMatching(/already handles/)]);
  });
});

describe('allowedOrigins', () => {
  async function statusFrom(origin: string | null): Promise<number> {
    const { port } = await startEchoServer(defer, { allowedOrigins: ['https://app.example', /^https:\/\/[a-z]+\.trusted\.example$/g] });
    return (await rawRequest(port, upgradeRequest(port, { headers: { Origin: origin } }))).status;
  }

  it('a listed origin (any case) and one matching a RegExp are accepted, twice in a row for a /g RegExp', async () => {
    expect(await statusFrom('https://app.example')).toBe(101);
    expect(await statusFrom('HTTPS://APP.example')).toBe(101);
    expect(await statusFrom('https://eu.trusted.example')).toBe(101);
    expect(await statusFrom('https://eu.trusted.example')).toBe(101);
  });

  it('another origin, a look-alike and the opaque "null" are refused with 403', async () => {
    expect(await statusFrom('https://evil.example')).toBe(403);
    expect(await statusFrom('https://app.example.evil.example')).toBe(403);
    expect(await statusFrom('null')).toBe(403);
  });

  it('a request without Origin (not a browser) is accepted', async () => {
    expect(await statusFrom(null)).toBe(101);
  });
});

describe("'headers' event", () => {
  it('a listener adds and changes lines of the 101 before it is written', async () => {
    const { server, port } = await startEchoServer(defer, { handleProtocols: () => 'chat' });
    const seen: string[][] = [];
    server.on('headers', (headers, req) => {
      seen.push([...headers]);
      headers.push(`Set-Cookie: session=${req.url === '/x' ? 'x' : 'y'}`);
      const index = headers.findIndex((line) => line.startsWith('Sec-WebSocket-Protocol'));
      headers[index] = 'Sec-WebSocket-Protocol: chat';
    });
    const raw = await RawClient.open(port, { path: '/x', headers: { 'Sec-WebSocket-Protocol': 'chat' } }, defer);
    expect(raw.headers['set-cookie']).toBe('session=x');
    expect(seen[0][0]).toBe('HTTP/1.1 101 Switching Protocols');
    expect(seen[0]).toContain('Upgrade: websocket');
    raw.send(frame(OP.text, 'still a WebSocket'));
    expect((await raw.next(OP.text)).payload.toString()).toBe('still a WebSocket');
  });

  it('a line that is not a header makes the answer a 500 and an upgradeError', async () => {
    const { server, port } = await startEchoServer(defer);
    const errors: unknown[] = [];
    server.on('upgradeError', (error) => errors.push(error));
    server.on('headers', (headers) => headers.push('X-Injected: a\r\nX-Other: b'));
    const res = await rawRequest(port, upgradeRequest(port));
    expect(res.status).toBe(500);
    expect(res.header('x-other')).toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});

describe("'wsClientError' event", () => {
  it('with a listener, the app answers an invalid handshake itself', async () => {
    const { server, port } = await startServer(defer);
    const seen: Array<{ message: string; status: number; url: string | undefined }> = [];
    server.on('wsClientError', (error, socket, req) => {
      seen.push({ message: error.message, status: error.status, url: req.url });
      socket.end('HTTP/1.1 418 I am a teapot\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    const res = await rawRequest(port, upgradeRequest(port, { path: '/bad', headers: { 'Sec-WebSocket-Version': '8' } }));
    expect(res.status).toBe(418);
    expect(seen).toEqual([{ message: expect.any(String), status: 426, url: '/bad' }]);
  });

  it('without one, the server answers as before', async () => {
    const { port } = await startServer(defer);
    const res = await rawRequest(port, upgradeRequest(port, { headers: { 'Sec-WebSocket-Version': '8' } }));
    expect(res.status).toBe(426);
  });
});
