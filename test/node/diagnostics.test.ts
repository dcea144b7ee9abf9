/**
 * node:diagnostics_channel events over real connections: the server's handshake verdicts, open,
 * close and error on both sides, with their payloads, in the order they happen.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { connect, HandshakeError } from '../../src/index.js';
import type { CloseMessage, ErrorMessage, HandshakeMessage, OpenMessage } from '../../src/node/diagnostics.js';
import { useCleanup } from '../helpers/cleanup.js';
import { frame, OP, RawClient } from '../helpers/raw.js';
import { nextConnection, startEchoServer, startServer } from '../helpers/server.js';
import { next, waitFor } from '../helpers/wait.js';

const defer = useCleanup();

type Event =
  | { name: 'handshake'; message: HandshakeMessage }
  | { name: 'open'; message: OpenMessage }
  | { name: 'close'; message: CloseMessage }
  | { name: 'error'; message: ErrorMessage };

/** Subscribes to the four channels for one test; what they publish lands in the returned list. */
function record(): Event[] {
  const events: Event[] = [];
  for (const name of ['handshake', 'open', 'close', 'error'] as const) {
    const listener = (message: unknown) => events.push({ name, message } as Event);
    subscribe(`rfc6455:${name}`, listener);
    defer(() => unsubscribe(`rfc6455:${name}`, listener));
  }
  return events;
}

describe('rfc6455:* diagnostics channels', () => {
  it("a connection's life: accepted, open on both sides, a clean close on both sides", async () => {
    const events = record();
    const { server, port } = await startEchoServer(defer, { perMessageDeflate: true, handleProtocols: () => 'chat' });
    const accepted = nextConnection(server);
    const client = await connect(`ws://127.0.0.1:${port}/room?id=7`, { protocols: ['chat', 'other'] });
    const peer = await accepted;
    client.send('hi');
    await next(client, 'message');
    const closed = Promise.all([next<[number, Buffer, boolean]>(client, 'close'), next<[number, Buffer, boolean]>(peer, 'close')]);
    client.close(1000, 'bye');
    const [clientClose, serverClose] = await closed;

    expect(events.map((event) => `${event.name}:${'side' in event.message ? event.message.side : ''}`)).toEqual([
      'handshake:',
      'open:server',
      'open:client',
      ...((events[3].message as CloseMessage).side === 'server' ? ['close:server', 'close:client'] : ['close:client', 'close:server']),
    ]);
    const handshake = events[0].message as HandshakeMessage;
    expect(handshake).toMatchObject({ accepted: true, status: 101, url: '/room?id=7', message: '' });
    expect(handshake.request?.headers['sec-websocket-protocol']).toBe('chat, other');
    const opens = events.filter((event) => event.name === 'open').map((event) => event.message as OpenMessage);
    expect(opens[0]).toMatchObject({ side: 'server', url: '/room?id=7', protocol: 'chat', extensions: 'permessage-deflate' });
    expect(opens[0].websocket).toBe(peer);
    expect(opens[1]).toMatchObject({ side: 'client', url: `ws://127.0.0.1:${port}/room?id=7`, protocol: 'chat' });
    expect(opens[1].extensions).toMatch(/^permessage-deflate/);
    expect(opens[1].websocket).toBe(client);
    expect(serverClose[1].toString()).toBe('bye');
    for (const close of events.filter((event) => event.name === 'close').map((event) => event.message as CloseMessage)) {
      // What the 'close' event said on that side: the server got 'bye'; the client, the echo.
      const [code, reason, wasClean] = close.side === 'client' ? clientClose : serverClose;
      expect(close).toMatchObject({ code, reason: reason.toString(), wasClean });
      expect(close).toMatchObject({ code: 1000, wasClean: true });
      expect(close.websocket).toBe(close.side === 'client' ? client : peer);
    }
    expect(events.some((event) => event.name === 'error')).toBe(false);
  });

  it("a refused handshake: the server's status and url; the client's HandshakeError and a 1006 close", async () => {
    const events = record();
    const { port } = await startServer(defer, { verifyClient: (_info, cb) => cb(false, 429, 'Slow down') });
    const error = await connect(`ws://127.0.0.1:${port}/private`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    await waitFor(() => events.length >= 3, 2000, 'three events');

    const handshake = events.find((event) => event.name === 'handshake')!.message as HandshakeMessage;
    expect(handshake).toMatchObject({ accepted: false, status: 429, url: '/private', message: 'Slow down' });
    const failure = events.find((event) => event.name === 'error')!.message as ErrorMessage;
    expect(failure).toMatchObject({ side: 'client', url: `ws://127.0.0.1:${port}/private` });
    expect(failure.error).toBe(error);
    expect((failure.error as HandshakeError).status).toBe(429);
    const close = events.find((event) => event.name === 'close')!.message as CloseMessage;
    expect(close).toMatchObject({ side: 'client', code: 1006, reason: '', wasClean: false });
    expect(events.some((event) => event.name === 'open')).toBe(false);
  });

  it("a refusal by the server's own rules (a path it does not serve) is published with its 404", async () => {
    const events = record();
    const { port } = await startServer(defer, { path: '/ws' });
    const refused = await RawClient.connect(port, { path: '/elsewhere' }, defer);
    expect(refused.status).toBe(404);
    await waitFor(() => events.length >= 1, 2000, 'a handshake event');
    expect(events[0].message).toMatchObject({ accepted: false, status: 404, url: '/elsewhere' });
  });

  it("a peer's protocol violation: the server's error (code 1002) and its unclean close, though nobody listens for 'error'", async () => {
    const events = record();
    const { server, port } = await startServer(defer);
    const accepted = nextConnection(server);
    const raw = await RawClient.open(port, { path: '/raw' }, defer);
    const peer = await accepted;
    expect(peer.listenerCount('error')).toBe(0);
    raw.socket.write(frame(OP.text, 'unmasked', { mask: false }));
    await next(peer, 'close');

    const failure = events.find((event) => event.name === 'error')!.message as ErrorMessage;
    expect(failure).toMatchObject({ side: 'server', url: '/raw' });
    expect((failure.error as Error & { code?: number }).code).toBe(1002);
    const close = events.find((event) => event.name === 'close')!.message as CloseMessage;
    expect(close).toMatchObject({ side: 'server', url: '/raw', code: 1002, wasClean: false });
  });
});
