// The browser-style surface as WebIDL shapes it (constants, read-only attributes), the on*
// handlers as listeners of their own, and ws's `_socket` for code that reads the peer address.
import { describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { nextConnection, startServer } from '../helpers/server.js';
import { once } from '../helpers/wait.js';

const defer = useCleanup();


describe('constants', () => {
  it('are enumerable, read-only and not configurable on the class and the prototype', () => {
    for (const [name, value] of Object.entries({ CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 })) {
      for (const target of [WebSocket, WebSocket.prototype]) {
        expect(Object.getOwnPropertyDescriptor(target, name)).toEqual({ value, enumerable: true, writable: false, configurable: false });
      }
    }
  });
});

describe('readyState, protocol, extensions, url', () => {
  it('are enumerable accessors on the prototype, without a setter', () => {
    for (const name of ['readyState', 'protocol', 'extensions', 'url']) {
      const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, name)!;
      expect(descriptor.enumerable, name).toBe(true);
      expect(descriptor.configurable, name).toBe(true);
      expect(typeof descriptor.get, name).toBe('function');
      expect(descriptor.set, name).toBeUndefined();
    }
  });

  it('cannot be assigned by the application', async () => {
    const { url } = await startServer(defer, { handleProtocols: () => 'chat' });
    const ws = new WebSocket(url, 'chat');
    defer(() => ws.terminate());
    await once(ws, 'open');
    expect(() => ((ws as { readyState: number }).readyState = WebSocket.CLOSED)).toThrow(TypeError);
    expect(() => ((ws as { protocol: string }).protocol = 'other')).toThrow(TypeError);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(ws.protocol).toBe('chat');
    expect(ws.url).toBe(`${url}/`);
  });
});

describe('on* handlers', () => {
  it('are listeners of their own: the same function added with addEventListener is a second listener', async () => {
    const { server, url } = await startServer(defer);
    server.on('connection', (peer) => peer.send('hi'));
    const ws = new WebSocket(url);
    defer(() => ws.terminate());
    const calls: string[] = [];
    const listener = (event: { data: unknown }) => calls.push(String(event.data));
    ws.addEventListener('message', listener);
    ws.onmessage = listener;
    expect(ws.listenerCount('message')).toBe(2);
    // Replacing the handler leaves the addEventListener one alone.
    ws.onmessage = listener;
    expect(ws.listenerCount('message')).toBe(2);
    await once(ws, 'message');
    expect(calls).toEqual(['hi', 'hi']);
    ws.onmessage = null;
    expect(ws.listenerCount('message')).toBe(1);
    ws.removeEventListener('message', listener);
    expect(ws.listenerCount('message')).toBe(0);
  });
});

describe('_socket (ws compatibility)', () => {
  it('is null while connecting, then the upgraded socket on both sides', async () => {
    const { server, url } = await startServer(defer);
    const accepted = nextConnection(server);
    const ws = new WebSocket(url);
    defer(() => ws.terminate());
    expect((ws as unknown as { _socket: unknown })._socket).toBeNull();
    await once(ws, 'open');
    const peer = await accepted;
    const socket = (peer as unknown as { _socket: import('node:net').Socket })._socket;
    expect(socket.remoteAddress).toBe('127.0.0.1');
    expect(socket.remotePort).toBe(((ws as unknown as { _socket: import('node:net').Socket })._socket).localPort);
  });
});
