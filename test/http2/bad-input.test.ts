// The bad-input table over HTTP/2 streams: a raw peer (node:http2's client, frames built by hand)
// opens a WebSocket with an extended CONNECT and sends what a broken or hostile client would. The
// server must answer with the same close code as over TCP, end the stream itself, and leave the
// other WebSocket on the same session untouched. Then the HTTP/2-specific refusals.
import type * as http2 from 'node:http2';
import { describe, expect, it } from 'vitest';
import { connect, type WebSocket } from '../../src/index.js';
import { badInputRows } from '../helpers/bad-input.js';
import { useCertificate } from '../helpers/certificate.js';
import { useCleanup } from '../helpers/cleanup.js';
import { frame, FrameReader, OP } from '../helpers/raw.js';
import { closed, nextMessage, type Closed } from '../helpers/wait.js';
import { body, connectHeaders, h2Session, request, startTlsEchoServer } from './helpers.js';

const defer = useCleanup();
const certificate = useCertificate();
const MAX_PAYLOAD = 1024;

async function setup() {
  const started = await startTlsEchoServer(defer, certificate, { maxPayload: MAX_PAYLOAD });
  const { session } = await h2Session(defer, started.port, certificate);
  // The bystander: our client on its own session, and a raw WebSocket on the same session as the bad one.
  const bystander = await connect(started.url, { ca: certificate.cert, http2: true });
  defer(() => bystander.terminate());
  const neighbour = await rawWebSocket(session);
  return { ...started, session, bystander, neighbour };
}

async function rawWebSocket(session: http2.ClientHttp2Session): Promise<FrameReader & { stream: http2.ClientHttp2Stream }> {
  const { stream, response } = await request(session, connectHeaders('/'));
  expect(response[':status']).toBe(200);
  // As a TCP socket without allowHalfOpen: the peer's END_STREAM ends ours.
  stream.once('end', () => stream.end());
  // FrameReader reads any Duplex; masked frames, as a client's must be.
  return Object.assign(new FrameReader(stream as never, undefined, { mask: true }), { stream });
}

async function stillEchoes(bystander: WebSocket, neighbour: FrameReader): Promise<void> {
  const reply = nextMessage(bystander);
  bystander.send('still here');
  expect((await reply).data.toString()).toBe('still here');
  neighbour.socket.write(frame(OP.text, 'neighbour', { mask: true }));
  expect((await neighbour.next(OP.text)).payload.toString()).toBe('neighbour');
}

describe('bad input over an HTTP/2 stream: close code, END_STREAM from the server, neighbours unaffected', () => {
  it.each(badInputRows(MAX_PAYLOAD))('%s → %i', async (_name, bytes, code) => {
    const s = await setup();
    const serverSide = new Promise<Closed>((resolve) => s.server.once('connection', (ws) => resolve(closed(ws))));
    const raw = await rawWebSocket(s.session);
    for (const chunk of bytes()) raw.socket.write(chunk);
    expect(await raw.closeCode()).toBe(code);
    // The server ends its side of the stream (END_STREAM) without waiting for our close frame.
    await vi_waitFor(() => raw.peerEnded);
    expect(raw.frames.map((f) => f.opcode)).toEqual([OP.close]);
    expect(raw.frames[0].masked).toBe(false);
    const server = await serverSide;
    expect([server.code, server.wasClean]).toEqual([code, false]);
    await stillEchoes(s.bystander, s.neighbour);
  });
});

async function vi_waitFor(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !predicate(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(predicate()).toBe(true);
}

describe('HTTP/2-specific refusals, as HTTP/2 responses', () => {
  it('a wrong or missing Sec-WebSocket-Version: 400 with sec-websocket-version: 13 (no 426: it needs Upgrade, which HTTP/2 forbids)', async () => {
    const s = await setup();
    for (const version of ['8', null]) {
      const { stream, response } = await request(s.session, connectHeaders('/', { 'sec-websocket-version': version }));
      expect([response[':status'], response['sec-websocket-version']]).toEqual([400, '13']);
      expect(await body(stream)).toMatch(/Sec-WebSocket-Version must be 13/);
    }
    await stillEchoes(s.bystander, s.neighbour);
  });

  it('a CONNECT without :protocol (a tunnel request) is refused 400 "Missing :protocol"; another :protocol 501', async () => {
    const s = await setup();
    const tunnel = await request(s.session, { ':method': 'CONNECT', ':authority': 'localhost:443', 'sec-websocket-version': '13' });
    expect(tunnel.response[':status']).toBe(400);
    expect(await body(tunnel.stream)).toMatch(/Missing :protocol/);
    const other = await request(s.session, connectHeaders('/', { ':protocol': 'webtransport' }));
    expect(other.response[':status']).toBe(501);
    await body(other.stream);
    await stillEchoes(s.bystander, s.neighbour);
  });

  it('an invalid subprotocol list: 400; a chosen subprotocol and permessage-deflate answered in the 200', async () => {
    const started = await startTlsEchoServer(defer, certificate, { perMessageDeflate: true });
    const { session } = await h2Session(defer, started.port, certificate);
    const bad = await request(session, connectHeaders('/', { 'sec-websocket-protocol': 'a, a' }));
    expect(bad.response[':status']).toBe(400);
    await body(bad.stream);
    const good = await request(session, connectHeaders('/', { 'sec-websocket-protocol': 'b, c', 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' }));
    expect([good.response[':status'], good.response['sec-websocket-protocol']]).toEqual([200, 'b']);
    expect(good.response['sec-websocket-extensions']).toMatch(/^permessage-deflate/);
    // No HTTP/1.1 handshake fields in an HTTP/2 answer (RFC 8441 §5).
    expect(good.response['sec-websocket-accept']).toBeUndefined();
    expect(good.response.upgrade).toBeUndefined();
    good.stream.destroy();
  });
});
