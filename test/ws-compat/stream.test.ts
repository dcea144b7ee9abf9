// createWebSocketStream as ws code uses it: the stream is destroyed as soon as both sides are done
// ('end' listeners see it destroyed), and destroying it while a failed handshake is being reported
// yields the handshake's error (an error while going down is not lost), nothing thrown.
import { describe, expect, it } from 'vitest';
import { WebSocket, createWebSocketStream } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { startRawServer } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import { once } from '../helpers/wait.js';

const defer = useCleanup();

describe('createWebSocketStream', () => {
  it("is already destroyed when 'end' comes after 'finish'", async () => {
    const { server, url } = await startServer(defer);
    server.on('connection', (peer) => {
      peer.send('foo');
      peer.close();
    });
    const ws = new WebSocket(url);
    const duplex = createWebSocketStream(ws);
    const events: Array<[string, boolean]> = [];
    duplex.on('finish', () => {
      events.push(['finish', duplex.destroyed]);
      duplex.resume();
    });
    duplex.on('end', () => events.push(['end', duplex.destroyed]));
    ws.on('close', () => duplex.end());
    await once(duplex, 'close');
    expect(events).toEqual([
      ['finish', false],
      ['end', true],
    ]);
  });

  it('destroy() while a failed handshake is being reported: the stream fails with the handshake error', async () => {
    const { port } = await startRawServer(defer, (socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n');
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const duplex = createWebSocketStream(ws);
    const errors: Error[] = [];
    duplex.on('error', (error) => errors.push(error));
    ws.on('upgrade', () => process.nextTick(() => duplex.destroy()));
    await once(duplex, 'close');
    expect(errors.map((e) => e.message)).toHaveLength(1);
    expect(errors[0].message).toMatch(/Sec-WebSocket-Accept/);
  });
});
