// Our client and our server over HTTP/2 (RFC 8441): many WebSockets as streams of one session,
// the end of one stream (clean or reset) touching only its own WebSocket, and the end of the
// session failing all of them with 1006.
import * as http2 from 'node:http2';
import { describe, expect, it } from 'vitest';
import { connect, type WebSocket } from '../../src/index.js';
import { http2SessionCount } from '../../src/node/http2-client.js';
import { useCertificate } from '../helpers/certificate.js';
import { useCleanup } from '../helpers/cleanup.js';
import { closed, nextMessage, waitFor } from '../helpers/wait.js';
import { startTlsEchoServer, transportOf } from './helpers.js';

const defer = useCleanup();
const certificate = useCertificate();
const MiB = 1024 * 1024;

/** Opens `n` WebSockets over HTTP/2 and returns both sides of each, in order. */
async function open(n: number, extra: { path?: string } = {}) {
  const started = await startTlsEchoServer(defer, certificate, { maxPayload: 2 * MiB });
  const serverSides: WebSocket[] = [];
  started.server.on('connection', (ws) => serverSides.push(ws));
  const clients = await Promise.all(
    Array.from({ length: n }, (_, i) => connect(`${started.url}${extra.path ?? '/'}?n=${i}`, { ca: certificate.cert, http2: true, perMessageDeflate: false })),
  );
  for (const ws of clients) defer(() => ws.terminate());
  await waitFor(() => serverSides.length === n);
  return { ...started, clients, serverSides };
}

describe('WebSockets over HTTP/2, our client and our server', () => {
  it('100 WebSockets on one HTTP/2 session each echo 1 MiB; the session closes with the last of them', async () => {
    const { clients, serverSides } = await open(100);
    // One session on each side: every server-side stream belongs to the same Http2Session.
    const sessions = new Set(serverSides.map((ws) => (transportOf(ws) as http2.ServerHttp2Stream).session));
    expect(sessions.size).toBe(1);
    // node:http2 does not export the class: its name says what the WebSocket runs over.
    expect(new Set(serverSides.map((ws) => (transportOf(ws) as object).constructor.name))).toEqual(new Set(['ServerHttp2Stream']));
    expect(http2SessionCount()).toBe(1);
    const payloads = clients.map((_, i) => Buffer.alloc(MiB, i));
    const echoes = clients.map((ws) => nextMessage(ws, 30_000));
    clients.forEach((ws, i) => ws.send(payloads[i]));
    const got = await Promise.all(echoes);
    got.forEach(({ data, isBinary }, i) => {
      expect(isBinary).toBe(true);
      expect(Buffer.compare(data, payloads[i])).toBe(0);
    });
    const serverClosed = serverSides.map((ws) => closed(ws));
    const clientClosed = clients.map((ws) => closed(ws));
    for (const ws of clients) ws.close(1000, 'done');
    for (const c of await Promise.all(clientClosed)) expect([c.code, c.wasClean]).toEqual([1000, true]);
    for (const c of await Promise.all(serverClosed)) expect([c.code, c.wasClean]).toEqual([1000, true]);
    // Each stream ended with END_STREAM both ways, never a reset.
    for (const ws of serverSides) expect((transportOf(ws) as http2.ServerHttp2Stream).rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    await waitFor(() => http2SessionCount() === 0, 5000, 'the client session to close');
    const [session] = sessions;
    await waitFor(() => session!.closed || session!.destroyed, 5000, 'the server session to close');
  }, 60_000);

  it('a later WebSocket to the same origin reuses the open session', async () => {
    const { url, clients, serverSides } = await open(1);
    const second = await connect(`${url}/again`, { ca: certificate.cert, http2: true });
    defer(() => second.terminate());
    await waitFor(() => serverSides.length === 2);
    expect((transportOf(serverSides[1]) as http2.ServerHttp2Stream).session).toBe((transportOf(serverSides[0]) as http2.ServerHttp2Stream).session);
    expect(http2SessionCount()).toBe(1);
    clients[0].close();
    await closed(clients[0]);
    // Still one WebSocket on it: the session stays.
    expect(http2SessionCount()).toBe(1);
    const reply = nextMessage(second);
    second.send('still');
    expect((await reply).data.toString()).toBe('still');
  });

  it('a reset stream fails only its own WebSocket (1006, RST_STREAM CANCEL); the others go on', async () => {
    const { clients, serverSides } = await open(5);
    const victim = serverSides.findIndex((ws) => ws.url.endsWith('n=2'));
    const serverSide = closed(serverSides[victim]);
    const stream = transportOf(clients[2]) as http2.ClientHttp2Stream;
    clients[2].terminate();
    const c = await serverSide;
    expect(c.code).toBe(1006);
    // The code the client reset its stream with. The server's stream records CANCEL on Node 20
    // and 24, NO_ERROR on Node 22: there close(CANCEL) sends END_STREAM first, our server ends its
    // side on seeing it, and the stream is closed cleanly before the RST_STREAM arrives.
    expect(stream.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    for (const [i, ws] of clients.entries()) {
      if (i === 2) continue;
      const reply = nextMessage(ws);
      ws.send(`after reset ${i}`);
      expect((await reply).data.toString()).toBe(`after reset ${i}`);
    }
    expect(serverSides.filter((ws) => ws.readyState === 1).length).toBe(4);
  });

  it('the server terminating one WebSocket resets its stream with CANCEL: the client sees 1006', async () => {
    const { clients, serverSides } = await open(3);
    const target = serverSides.find((ws) => ws.url.endsWith('n=1'))!;
    const clientSide = closed(clients[1]);
    target.terminate();
    expect((await clientSide).code).toBe(1006);
    expect((transportOf(target) as http2.ServerHttp2Stream).rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    const reply = nextMessage(clients[0]);
    clients[0].send('fine');
    expect((await reply).data.toString()).toBe('fine');
  });

  it('a killed session fails all its WebSockets with 1006, on both sides, and nothing else', async () => {
    const { url, clients, serverSides: all } = await open(10);
    const serverSides = [...all];
    // A WebSocket over HTTP/1.1 on the same server is not on the session.
    const bystander = await connect(`${url}/h1`, { ca: certificate.cert });
    defer(() => bystander.terminate());
    const clientClosed = clients.map((ws) => closed(ws));
    const serverClosed = serverSides.map((ws) => closed(ws));
    (transportOf(serverSides[0]) as http2.ServerHttp2Stream).session!.destroy();
    for (const c of await Promise.all(clientClosed)) expect(c.code).toBe(1006);
    for (const c of await Promise.all(serverClosed)) expect(c.code).toBe(1006);
    await waitFor(() => http2SessionCount() === 0);
    const reply = nextMessage(bystander);
    bystander.send('bystander');
    expect((await reply).data.toString()).toBe('bystander');
  });

  it('HTTP/2 flow control is the backpressure: a client that stops reading fills bufferedAmount, drain follows its resume', async () => {
    const { clients, serverSides } = await open(1);
    const [client] = clients;
    const [serverSide] = serverSides;
    client.pause();
    const chunk = Buffer.alloc(64 * 1024, 7);
    // 4 MiB to a client that reads nothing: far more than the stream's flow-control window.
    const sent = 64;
    const accepted = Array.from({ length: sent }, () => serverSide.send(chunk));
    expect(accepted.at(-1)).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    // The window is spent and not given back (WINDOW_UPDATE waits for reading): most of it is
    // still ours, counted in bufferedAmount.
    expect(serverSide.bufferedAmount).toBeGreaterThan(2 * MiB);
    let received = 0;
    client.on('message', () => received++);
    const drained = new Promise<void>((resolve) => serverSide.once('drain', () => resolve()));
    client.resume();
    await drained;
    await waitFor(() => received === sent, 10_000, 'every message');
  });
});
