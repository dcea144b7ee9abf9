// bufferedAmount as the WHATWG spec defines it (application data queued with send(), no framing
// overhead) and as ws code reads it: the close frame is not application data, so close() does not
// raise it; a send, ping or pong refused after close() adds its data size.
import { describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { nextConnection, startServer } from '../helpers/server.js';
import { closed, once } from '../helpers/wait.js';

const defer = useCleanup();

async function pair(): Promise<{ client: WebSocket; peer: WebSocket }> {
  const { server, url } = await startServer(defer);
  const client = new WebSocket(url);
  defer(() => client.terminate());
  const [peer] = await Promise.all([nextConnection(server), once(client, 'open')]);
  return { client, peer };
}

describe('bufferedAmount and the close frame', () => {
  for (const side of ['client', 'server'] as const) {
    it(`${side}: close() leaves it at 0, and a ping, pong or send refused while closing adds its data`, async () => {
      const ends = await pair();
      const ws = ends[side === 'client' ? 'client' : 'peer'];
      const done = closed(ws);
      ws.close();
      expect(ws.bufferedAmount).toBe(0);
      const refused = await new Promise<unknown>((resolve) => ws.ping('hi', resolve));
      expect(refused).toBeInstanceOf(Error);
      expect(ws.bufferedAmount).toBe(2);
      ws.pong('abc');
      ws.send('defg');
      expect(ws.bufferedAmount).toBe(9);
      await done;
      expect(ws.bufferedAmount).toBe(9);
    });
  }

  it('a close with a code and reason does not count either', async () => {
    const { client } = await pair();
    client.close(4000, 'bye');
    expect(client.bufferedAmount).toBe(0);
    await closed(client);
  });
});
