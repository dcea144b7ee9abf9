// Real peers: the `ws` package's client and server, and Node's own WebSocket client.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import WsClient, { WebSocketServer as WsServer } from 'ws';
import { connect, type WebSocket, type WebSocketServer } from '../../src/index.js';
import { echoServer } from './raw.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function ours() {
  const started = await echoServer({ maxPayload: 8 * 1024 * 1024 });
  cleanups.push(() => started.server.close({ timeout: 200 }));
  return started;
}

function wsReply(ws: WsClient): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })));
}

describe('the ws package as client, our server', () => {
  it('echoes text, binary, 1 MiB and fragmented messages; pings; close codes both ways', async () => {
    const { server, port } = await ours();
    const serverSide = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
    const ws = new WsClient(`ws://127.0.0.1:${port}`);
    await new Promise((resolve) => ws.once('open', resolve));
    const peer = await serverSide;
    for (const [data, binary] of [
      ['text ✓', false],
      [Buffer.from([0, 255]), true],
      [Buffer.alloc(1 << 20, 3), true],
    ] as const) {
      const reply = wsReply(ws);
      ws.send(data, { binary });
      const got = await reply;
      expect(got.isBinary).toBe(binary);
      expect(Buffer.compare(got.data, Buffer.from(data as string | Buffer))).toBe(0);
    }
    const fragmented = wsReply(ws);
    ws.send('frag', { fin: false });
    ws.send('mented', { fin: true });
    expect((await fragmented).data.toString()).toBe('fragmented');
    const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
    ws.ping('p1');
    expect((await pong).toString()).toBe('p1');
    const theirPong = new Promise<Buffer>((resolve) => peer.once('pong', resolve));
    peer.ping('p2');
    expect((await theirPong).toString()).toBe('p2');
    const closed = new Promise<[number, string]>((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve([code, reason.toString()])));
    peer.close(4000, 'from us');
    expect(await closed).toEqual([4000, 'from us']);
  });

  it('their close code and reason reach us', async () => {
    const { server, port } = await ours();
    const serverSide = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
    const ws = new WsClient(`ws://127.0.0.1:${port}`);
    await new Promise((resolve) => ws.once('open', resolve));
    const peer = await serverSide;
    const closed = new Promise<[number, string, boolean]>((resolve) => peer.once('close', (c, r, clean) => resolve([c, r.toString(), clean])));
    ws.close(3001, 'from ws');
    expect(await closed).toEqual([3001, 'from ws', true]);
  });
});

describe('our client, the ws package as server', () => {
  it('echoes every kind of message and closes cleanly both ways', async () => {
    const wss = new WsServer({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => new Promise((resolve) => wss.close(resolve)));
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (peer) => peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary })));
    const port = (wss.address() as { port: number }).port;
    const ws = await connect(`ws://127.0.0.1:${port}`);
    for (const [data, isBinary] of [
      ['hello', false],
      [Buffer.alloc(0), true],
      [Buffer.alloc(1 << 20, 9), true],
    ] as const) {
      const reply = new Promise<{ data: Buffer; isBinary: boolean }>((resolve) => ws.once('message', (d, b) => resolve({ data: d, isBinary: b })));
      ws.send(data);
      const got = await reply;
      expect(got.isBinary).toBe(isBinary);
      expect(Buffer.compare(got.data, Buffer.from(data as string | Buffer))).toBe(0);
    }
    const fragmented = new Promise<Buffer>((resolve) => ws.once('message', resolve));
    ws.send(Buffer.from('ab'), { fin: false });
    ws.send(Buffer.from('cd'), { fin: true });
    expect((await fragmented).toString()).toBe('abcd');
    const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
    ws.ping('x');
    expect((await pong).toString()).toBe('x');
    const serverClosed = new Promise<number>((resolve) => [...wss.clients][0].once('close', resolve));
    const closed = new Promise<[number, boolean]>((resolve) => ws.once('close', (code, _r, clean) => resolve([code, clean])));
    ws.close(1000);
    expect(await serverClosed).toBe(1000);
    expect(await closed).toEqual([1000, true]);
  });
});

describe("Node's built-in WebSocket client, our server", () => {
  it('exchanges text and binary and closes with a code', async () => {
    const { server, port } = await ours();
    const closedOnServer = new Promise<[number, string]>((resolve) =>
      server.once('connection', (ws) => ws.once('close', (code, reason) => resolve([code, reason.toString()]))),
    );
    const script = `
      const ws = new WebSocket('ws://127.0.0.1:${port}');
      ws.binaryType = 'arraybuffer';
      const got = [];
      ws.onopen = () => { ws.send('hi from node'); ws.send(new Uint8Array([1, 2, 3])); };
      ws.onmessage = (e) => {
        got.push(typeof e.data === 'string' ? e.data : [...new Uint8Array(e.data)].join(','));
        if (got.length === 2) ws.close(4321, 'bye');
      };
      ws.onclose = (e) => { console.log(JSON.stringify({ got, code: e.code, clean: e.wasClean })); };
    `;
    const child = spawn(process.execPath, ['--experimental-websocket', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    await new Promise((resolve) => child.once('exit', resolve));
    expect(JSON.parse(output)).toEqual({ got: ['hi from node', '1,2,3'], code: 4321, clean: true });
    expect(await closedOnServer).toEqual([4321, 'bye']);
  });
});
