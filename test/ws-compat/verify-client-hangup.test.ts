// A client that half-closes (sends its FIN) while verifyClient is deciding: the app's own 'end'
// listener on the request's socket sees it as ws shows it (no longer readable, still writable),
// the connection is never opened, and the socket is let go.
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { startHttpServer } from '../helpers/server.js';
import { once } from '../helpers/wait.js';

const defer = useCleanup();

const handshake = [
  'GET / HTTP/1.1',
  'Host: localhost',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
  '\r\n',
].join('\r\n');

describe('a client hanging up during verifyClient', () => {
  it("is seen half-closed by the app's 'end' listener, gets no connection, and its socket is ended", async () => {
    const { server, port } = await startHttpServer(defer);
    const seen: Array<{ readable: boolean; writable: boolean }> = [];
    const wss = new WebSocketServer({
      server,
      verifyClient: ({ req }, callback) => {
        const socket = req.socket;
        socket.on('end', () => {
          seen.push({ readable: socket.readable, writable: socket.writable });
          callback(true);
        });
      },
    });
    defer(() => wss.close());
    let connections = 0;
    wss.on('connection', () => connections++);
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => client.end(handshake));
    defer(() => client.destroy());
    const received: Buffer[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk));
    await once(client, 'end');
    expect(seen).toEqual([{ readable: false, writable: true }]);
    expect(connections).toBe(0);
    expect(Buffer.concat(received).length).toBe(0);
  });
});
