// WebSocketServer options as JavaScript callers of ws write them.
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { startServer } from '../helpers/server.js';
import { once } from '../helpers/wait.js';

const defer = useCleanup();

describe('new WebSocketServer()', () => {
  it('without options says which option is missing (a TypeError), instead of failing on undefined', () => {
    const Server = WebSocketServer as unknown as new () => WebSocketServer;
    expect(() => new Server()).toThrow(/"port", "server" and "noServer"/);
  });
});

describe('handleProtocols', () => {
  it('returning nothing (undefined) agrees on no subprotocol, as false does, instead of a 500', async () => {
    const offered: string[][] = [];
    const { url } = await startServer(defer, {
      // A chooser written for ws: it returns only when it finds what it wants.
      handleProtocols(protocols) {
        offered.push([...protocols]);
        if (protocols.has('wanted')) return 'wanted';
      },
    });
    const ws = new WebSocket(url, ['foo', 'bar']);
    defer(() => ws.terminate());
    await once(ws, 'open');
    expect(ws.protocol).toBe('');
    expect(offered).toEqual([['foo', 'bar']]);
    const chosen = new WebSocket(url, ['foo', 'wanted']);
    defer(() => chosen.terminate());
    await once(chosen, 'open');
    expect(chosen.protocol).toBe('wanted');
  });
});
