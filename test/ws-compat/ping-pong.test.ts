// Pings answered as ws users expect: the automatic pong goes out before the application hears of
// the ping, so an application that closes in its 'ping' listener still answers (RFC 6455 §5.5.2).
import { describe, expect, it } from 'vitest';
import { OP, RawClient, frame } from '../helpers/raw.js';
import { useCleanup } from '../helpers/cleanup.js';
import { nextConnection, startServer } from '../helpers/server.js';

const defer = useCleanup();

describe('automatic pong', () => {
  it("is sent before a 'ping' listener's close, so the peer gets the pong, then the close frame", async () => {
    const { server, port } = await startServer(defer);
    const accepted = nextConnection(server);
    const raw = await RawClient.open(port, {}, defer);
    const ws = await accepted;
    ws.on('ping', () => ws.close(1000, 'bye'));
    raw.send(frame(OP.ping, 'are you there', { mask: true }));
    const { code, frames } = await raw.untilClose();
    expect(frames.map((f) => f.opcode)).toEqual([OP.pong]);
    expect(frames[0].payload.toString()).toBe('are you there');
    expect(code).toBe(1000);
  });

  it('is sent with no ping listener at all', async () => {
    const { server, port } = await startServer(defer);
    const accepted = nextConnection(server);
    const raw = await RawClient.open(port, {}, defer);
    await accepted;
    raw.send(frame(OP.ping, 'hello?', { mask: true }));
    expect((await raw.next(OP.pong)).payload.toString()).toBe('hello?');
  });

  it('is not sent with autoPong: false, and the ping is still reported', async () => {
    const { server, port } = await startServer(defer, { autoPong: false });
    const accepted = nextConnection(server);
    const raw = await RawClient.open(port, {}, defer);
    const ws = await accepted;
    const pinged = new Promise<string>((resolve) => ws.on('ping', (data) => resolve(data.toString())));
    raw.send(frame(OP.ping, 'quiet', { mask: true }));
    expect(await pinged).toBe('quiet');
    ws.close();
    const { code, frames } = await raw.untilClose();
    expect(frames).toEqual([]);
    expect(code).toBe(1005);
  });
});

describe('client autoPong option', () => {
  it('false: the client reports the server ping and sends no pong', async () => {
    const { server, url } = await startServer(defer);
    const accepted = nextConnection(server);
    const { WebSocket } = await import('../../src/index.js');
    const ws = new WebSocket(url, { autoPong: false });
    defer(() => ws.terminate());
    const peer = await accepted;
    const pongs: string[] = [];
    peer.on('pong', (data) => pongs.push(data.toString()));
    const pinged = new Promise<string>((resolve) => ws.on('ping', (data) => resolve(data.toString())));
    peer.ping('one');
    expect(await pinged).toBe('one');
    // A message sent after the ping arrives after any pong would have.
    const echoed = new Promise<void>((resolve) => peer.on('message', () => resolve()));
    ws.send('after');
    await echoed;
    expect(pongs).toEqual([]);
  });

  it('default: the client answers', async () => {
    const { server, url } = await startServer(defer);
    const accepted = nextConnection(server);
    const { WebSocket } = await import('../../src/index.js');
    const ws = new WebSocket(url);
    defer(() => ws.terminate());
    const peer = await accepted;
    const pong = new Promise<string>((resolve) => peer.on('pong', (data) => resolve(data.toString())));
    peer.ping('two');
    expect(await pong).toBe('two');
  });
});
