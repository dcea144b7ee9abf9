// The client's states and events around a handshake that does not succeed, as ws code expects:
// CLOSING while 'error' runs, close()/terminate() safe at any point, an app that closes while
// reading an unexpected response told so by an 'error', subprotocol null refused.
import { describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { startRawServer } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';
import { closed, once } from '../helpers/wait.js';

const defer = useCleanup();

describe('close() while connecting', () => {
  it("'error' sees CLOSING, 'close' sees CLOSED", async () => {
    const { url } = await startServer(defer);
    const ws = new WebSocket(url);
    const states: Array<[string, number]> = [];
    ws.on('error', (error) => states.push([error.message, ws.readyState]));
    const done = closed(ws);
    ws.close();
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    expect((await done).code).toBe(1006);
    expect(states).toEqual([['WebSocket was closed before the connection was established', WebSocket.CLOSING]]);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });
});

describe('a handshake failing after the 101', () => {
  it('terminate() and close() while the failure is being reported do not throw', async () => {
    // A 101 with a wrong Sec-WebSocket-Accept: the client fails the handshake (RFC 6455 §4.1).
    const { port } = await startRawServer(defer, (socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n');
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const errors: string[] = [];
    ws.on('error', (error) => errors.push(error.message));
    const thrown: unknown[] = [];
    // Runs after the failure is decided and before it is reported.
    ws.on('upgrade', () =>
      process.nextTick(() => {
        try {
          ws.terminate();
          ws.close();
        } catch (error) {
          thrown.push(error);
        }
      }),
    );
    expect((await closed(ws)).code).toBe(1006);
    expect(thrown).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/Sec-WebSocket-Accept/);
  });
});

describe("close() while reading an 'unexpected-response'", () => {
  it("ends with 'error' (closed before established), then 'close' 1006", async () => {
    const { port } = await startRawServer(defer, (socket) => {
      socket.write('HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nfoo');
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const events: string[] = [];
    ws.on('error', (error) => events.push(`error: ${error.message}`));
    ws.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk));
      response.on('end', () => {
        events.push(`body: ${body}`);
        ws.close();
      });
    });
    const done = closed(ws);
    expect((await done).code).toBe(1006);
    expect(events).toEqual(['body: foo', 'error: WebSocket was closed before the connection was established']);
  });

  it("without a close() the WebSocket closes when the response is done, with no 'error'", async () => {
    const { port } = await startRawServer(defer, (socket) => {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno');
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const errors: Error[] = [];
    ws.on('error', (error) => errors.push(error));
    ws.on('unexpected-response', (_request, response) => response.resume());
    expect((await closed(ws)).code).toBe(1006);
    expect(errors).toEqual([]);
  });
});

describe('subprotocols', () => {
  it('null is refused as ws does, with a SyntaxError', () => {
    expect(() => new WebSocket('ws://127.0.0.1:1', null)).toThrow(SyntaxError);
  });
});

describe('pause() and resume()', () => {
  it('do nothing once closed: isPaused stays as it was', async () => {
    const { url } = await startServer(defer);
    const ws = new WebSocket(url);
    expect(ws.isPaused).toBe(false);
    ws.resume();
    await once(ws, 'open');
    ws.pause();
    expect(ws.isPaused).toBe(true);
    const done = closed(ws);
    ws.terminate();
    await done;
    ws.resume();
    expect(ws.isPaused).toBe(true);
  });
});
