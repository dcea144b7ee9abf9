// The `ws` package's client against our server: messages of every kind, fragmentation, ping/pong,
// close codes both ways, limits. ws is the reference Node peer, so this is wire compatibility.
import { describe, expect, it } from 'vitest';
import WsWebSocket from 'ws';
import type { WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { nextConnection, startEchoServer, startServer } from '../helpers/server.js';
import { closed, once, waitFor } from '../helpers/wait.js';

const defer = useCleanup();

async function wsClient(url: string, protocols?: string[]): Promise<WsWebSocket> {
  const client = new WsWebSocket(url, protocols);
  defer(() => client.terminate());
  client.on('error', () => {}); // the tests read 'close'
  await once(client, 'open');
  return client;
}

function wsNext(client: WsWebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return once<[Buffer, boolean]>(client, 'message').then(([data, isBinary]) => ({ data, isBinary }));
}

function wsClosed(client: WsWebSocket): Promise<{ code: number; reason: string }> {
  return once<[number, Buffer]>(client, 'close').then(([code, reason]) => ({ code, reason: reason.toString() }));
}

async function pair(options = {}): Promise<{ client: WsWebSocket; peer: WebSocket }> {
  const { server, url } = await startServer(defer, options);
  const peer = nextConnection(server);
  const client = await wsClient(url);
  return { client, peer: await peer };
}

describe('ws client → our server', () => {
  it('text and binary echo, types preserved', async () => {
    const { url } = await startEchoServer(defer);
    const client = await wsClient(url);
    const t = wsNext(client);
    client.send('héllo ✓');
    expect(await t).toEqual({ data: Buffer.from('héllo ✓'), isBinary: false });
    const b = wsNext(client);
    client.send(Buffer.from([0, 1, 254, 255]));
    expect(await b).toEqual({ data: Buffer.from([0, 1, 254, 255]), isBinary: true });
    const e = wsNext(client);
    client.send('');
    expect(await e).toEqual({ data: Buffer.alloc(0), isBinary: false });
  });

  it('1 MiB both ways', async () => {
    const { url } = await startEchoServer(defer);
    const client = await wsClient(url);
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 13) & 0xff;
    const back = wsNext(client);
    client.send(big);
    const { data, isBinary } = await back;
    expect(isBinary).toBe(true);
    expect(Buffer.compare(data, big)).toBe(0);
  });

  it('a fragmented message from ws ({fin: false}) arrives whole', async () => {
    const { client, peer } = await pair();
    const got = once<[Buffer, boolean]>(peer, 'message');
    client.send('frag-1 ', { fin: false });
    client.send('frag-2 ', { fin: false });
    client.send('frag-3', { fin: true });
    const [data, isBinary] = await got;
    expect(data.toString()).toBe('frag-1 frag-2 frag-3');
    expect(isBinary).toBe(false);
  });

  it('a fragmented message from us arrives whole at ws', async () => {
    const { client, peer } = await pair();
    const got = wsNext(client);
    peer.send(Buffer.from([1]), { fin: false });
    peer.send(Buffer.from([2]), { fin: false });
    peer.send(Buffer.from([3]), { fin: true });
    expect(await got).toEqual({ data: Buffer.from([1, 2, 3]), isBinary: true });
  });

  it('sendStream reaches ws as one message', async () => {
    const { client, peer } = await pair();
    const got = wsNext(client);
    await peer.sendStream(['a', 'b', 'c']);
    expect((await got).data.toString()).toBe('abc');
  });

  it('ws pings, we auto-pong with the payload; we ping, ws auto-pongs', async () => {
    const { client, peer } = await pair();
    const ourPing = once<[Buffer]>(peer, 'ping');
    const wsPong = once<[Buffer]>(client, 'pong');
    client.ping('from ws');
    expect((await ourPing)[0].toString()).toBe('from ws');
    expect((await wsPong)[0].toString()).toBe('from ws');
    const wsPing = once<[Buffer]>(client, 'ping');
    const ourPong = once<[Buffer]>(peer, 'pong');
    peer.ping(Buffer.from([7, 7]));
    expect([...(await wsPing)[0]]).toEqual([7, 7]);
    expect([...(await ourPong)[0]]).toEqual([7, 7]);
  });

  it('ws closes with a code and reason: we see them, clean; ws sees the echo', async () => {
    const { client, peer } = await pair();
    const ours = closed(peer);
    const theirs = wsClosed(client);
    client.close(4444, 'ws says bye');
    expect(await ours).toEqual({ code: 4444, reason: 'ws says bye', wasClean: true });
    expect((await theirs).code).toBe(4444);
  });

  it('ws closes with no code: we see 1005', async () => {
    const { client, peer } = await pair();
    const ours = closed(peer);
    client.close();
    expect((await ours).code).toBe(1005);
  });

  it('we close with a code and reason: ws sees them', async () => {
    const { client, peer } = await pair();
    const theirs = wsClosed(client);
    const ours = closed(peer);
    peer.close(1008, 'policy');
    expect(await theirs).toEqual({ code: 1008, reason: 'policy' });
    expect(await ours).toMatchObject({ code: 1008, wasClean: true });
  });

  it('ws terminates: we see 1006', async () => {
    const { client, peer } = await pair();
    const ours = closed(peer);
    client.terminate();
    expect(await ours).toEqual({ code: 1006, reason: '', wasClean: false });
  });

  it('a message over our maxPayload: ws gets 1009', async () => {
    const { client } = await pair({ maxPayload: 1000 });
    const theirs = wsClosed(client);
    client.send(Buffer.alloc(1001));
    expect((await theirs).code).toBe(1009);
  });

  it('subprotocol negotiation with ws', async () => {
    const { url } = await startEchoServer(defer, { handleProtocols: (set) => (set.has('json') ? 'json' : false) });
    const client = await wsClient(url, ['xml', 'json']);
    expect(client.protocol).toBe('json');
  });

  it('many messages from many ws clients at once, all echoed in order', async () => {
    const { url } = await startEchoServer(defer);
    const clients = await Promise.all(Array.from({ length: 10 }, () => wsClient(url)));
    const got = clients.map(() => [] as string[]);
    clients.forEach((c, i) => c.on('message', (data) => got[i].push(data.toString())));
    for (let n = 0; n < 100; n++) clients.forEach((c, i) => c.send(`${i}:${n}`));
    await waitFor(() => got.every((g) => g.length === 100), 10_000);
    got.forEach((g, i) => expect(g).toEqual(Array.from({ length: 100 }, (_, n) => `${i}:${n}`)));
  });
});
