// Our client against the `ws` package's WebSocketServer: the same matrix from the other side.
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import WsWebSocket, { WebSocketServer as WsServer, type ServerOptions as WsServerOptions } from 'ws';
import { connect, HandshakeError, type ClientOptions, type WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { closed, nextMessage, once } from '../helpers/wait.js';

const defer = useCleanup();

async function wsServer(options: WsServerOptions = {}): Promise<{ server: WsServer; url: string }> {
  const server = new WsServer({ port: 0, host: '127.0.0.1', ...options });
  defer(
    () =>
      new Promise<void>((resolve) => {
        for (const c of server.clients) c.terminate();
        server.close(() => resolve());
      }),
  );
  await once(server, 'listening');
  return { server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function pair(options: WsServerOptions = {}, clientOptions: ClientOptions = {}): Promise<{ client: WebSocket; peer: WsWebSocket; server: WsServer }> {
  const { server, url } = await wsServer(options);
  // ws emits 'error' for protocol violations it detects (e.g. maxPayload); the tests read 'close'.
  const peer = once<[WsWebSocket]>(server, 'connection').then(([ws]) => ws.on('error', () => {}));
  const client = await connect(url, clientOptions);
  defer(() => client.terminate());
  return { client, peer: await peer, server };
}

function wsNext(ws: WsWebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return once<[Buffer, boolean]>(ws, 'message').then(([data, isBinary]) => ({ data, isBinary }));
}

describe('our client → ws server', () => {
  it('text and binary, both directions, types preserved', async () => {
    const { client, peer } = await pair();
    const t = wsNext(peer);
    client.send('héllo ✓');
    expect(await t).toEqual({ data: Buffer.from('héllo ✓'), isBinary: false });
    const b = wsNext(peer);
    client.send(new Uint8Array([9, 8, 7]));
    expect(await b).toEqual({ data: Buffer.from([9, 8, 7]), isBinary: true });
    const back = nextMessage(client);
    peer.send('from ws');
    expect((await back).data.toString()).toBe('from ws');
    const backBin = nextMessage(client);
    peer.send(Buffer.from([1, 2]));
    const got = await backBin;
    expect(got.isBinary).toBe(true);
    expect([...got.data]).toEqual([1, 2]);
  });

  it('1 MiB both ways', async () => {
    const { client, peer } = await pair();
    peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary }));
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 17 + 3) & 0xff;
    const back = nextMessage(client, 10_000);
    client.send(big);
    const { data, isBinary } = await back;
    expect(isBinary).toBe(true);
    expect(Buffer.compare(data, big)).toBe(0);
  });

  it('our fragmented send arrives whole at ws; ws fragments arrive whole at us', async () => {
    const { client, peer } = await pair();
    const atWs = wsNext(peer);
    client.send('part1 ', { fin: false });
    client.send('part2', { fin: true });
    expect((await atWs).data.toString()).toBe('part1 part2');
    const atUs = nextMessage(client);
    peer.send('x', { fin: false });
    peer.send('y', { fin: false });
    peer.send('z', { fin: true });
    expect((await atUs).data.toString()).toBe('xyz');
  });

  it('sendStream arrives whole at ws', async () => {
    const { client, peer } = await pair();
    const atWs = wsNext(peer);
    await client.sendStream([Buffer.from([1, 2]), Buffer.from([3])], { binary: true });
    expect(await atWs).toEqual({ data: Buffer.from([1, 2, 3]), isBinary: true });
  });

  it('ping/pong both ways with payloads', async () => {
    const { client, peer } = await pair();
    const wsPing = once<[Buffer]>(peer, 'ping');
    const ourPong = once<[Buffer]>(client, 'pong');
    client.ping('ours');
    expect((await wsPing)[0].toString()).toBe('ours');
    expect((await ourPong)[0].toString()).toBe('ours');
    const ourPing = once<[Buffer]>(client, 'ping');
    const wsPong = once<[Buffer]>(peer, 'pong');
    peer.ping('theirs');
    expect((await ourPing)[0].toString()).toBe('theirs');
    expect((await wsPong)[0].toString()).toBe('theirs');
  });

  it('we close with a code and reason: ws sees them; clean on our side', async () => {
    const { client, peer } = await pair();
    const theirs = once<[number, Buffer]>(peer, 'close');
    const ours = closed(client);
    client.close(4100, 'our reason');
    const [code, reason] = await theirs;
    expect([code, reason.toString()]).toEqual([4100, 'our reason']);
    expect(await ours).toMatchObject({ code: 4100, wasClean: true });
  });

  it('ws closes with a code and reason: we see them, clean', async () => {
    const { client, peer } = await pair();
    const ours = closed(client);
    peer.close(1011, 'ws failed');
    expect(await ours).toEqual({ code: 1011, reason: 'ws failed', wasClean: true });
  });

  it('ws closes with no code: we see 1005', async () => {
    const { client, peer } = await pair();
    const ours = closed(client);
    peer.close();
    expect(await ours).toMatchObject({ code: 1005, wasClean: true });
  });

  it('ws terminates: we see 1006', async () => {
    const { client, peer } = await pair();
    const ours = closed(client);
    peer.terminate();
    expect(await ours).toEqual({ code: 1006, reason: '', wasClean: false });
  });

  it('a message over ws maxPayload: we get 1009', async () => {
    const { client } = await pair({ maxPayload: 1000 });
    const ours = closed(client);
    client.send(Buffer.alloc(1001));
    expect((await ours).code).toBe(1009);
  });

  it('subprotocol chosen by ws', async () => {
    const { client } = await pair({ handleProtocols: (set) => (set.has('v2') ? 'v2' : false) }, { protocols: ['v1', 'v2'] });
    expect(client.protocol).toBe('v2');
  });

  it('ws verifyClient refusing with 401 → HandshakeError status 401', async () => {
    const { url } = await wsServer({ verifyClient: (_info, cb) => cb(false, 401, 'nope') });
    const error = await connect(url).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).status).toBe(401);
  });

  it('permessage-deflate agreed with ws: compressible messages round-trip', async () => {
    const { client, peer } = await pair({ perMessageDeflate: { threshold: 0 } });
    expect(client.extensions).toMatch(/permessage-deflate/);
    peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary }));
    const text = 'compress me '.repeat(5000);
    const back = nextMessage(client);
    client.send(text);
    expect((await back).data.toString()).toBe(text);
  });

  it('for await over messages from ws ends when ws closes', async () => {
    const { client, peer } = await pair();
    peer.send('1');
    peer.send('2');
    peer.close(1000);
    const got: string[] = [];
    for await (const m of client) got.push(m.text());
    expect(got).toEqual(['1', '2']);
  });
});
