// Our client ⇄ our server over loopback: every kind of payload, fragmentation, streaming, ping and
// pong, readyState and bufferedAmount, binaryType, the browser-style surface and async iteration.
import { describe, expect, it } from 'vitest';
import { CloseEvent, connect, ErrorEvent, Message, MessageEvent, WebSocket, type WebSocketServer } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { nextConnection, startEchoServer, startServer } from '../helpers/server.js';
import { closed, nextMessage, once, waitFor } from '../helpers/wait.js';

const defer = useCleanup();

async function pair(options: Parameters<typeof startServer>[1] = {}): Promise<{ server: WebSocketServer; client: WebSocket; peer: WebSocket; url: string }> {
  const { server, url } = await startServer(defer, options);
  const peerP = nextConnection(server);
  const client = await connect(url);
  defer(() => client.terminate());
  return { server, client, peer: await peerP, url };
}

async function echoClient(): Promise<WebSocket> {
  const { url } = await startEchoServer(defer);
  const client = await connect(url);
  defer(() => client.terminate());
  return client;
}

describe('messages both ways', () => {
  it('text arrives as a text message, the same bytes (multi-byte UTF-8 included)', async () => {
    const { client, peer } = await pair();
    const got = nextMessage(peer);
    client.send('héllo wörld ✓ 😀');
    const { data, isBinary } = await got;
    expect(isBinary).toBe(false);
    expect(Buffer.isBuffer(data)).toBe(true);
    expect(data.toString('utf8')).toBe('héllo wörld ✓ 😀');
  });

  it('server to client too', async () => {
    const { client, peer } = await pair();
    const got = nextMessage(client);
    peer.send('from the server');
    expect((await got).data.toString()).toBe('from the server');
  });

  const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
  const views: Array<[string, () => Parameters<WebSocket['send']>[0], Buffer]> = [
    ['Buffer', () => Buffer.from(bytes), Buffer.from(bytes)],
    ['ArrayBuffer', () => bytes.slice().buffer, Buffer.from(bytes)],
    ['Uint8Array', () => bytes.slice(), Buffer.from(bytes)],
    // Views over part of a larger buffer: only the viewed bytes go.
    ['Uint8Array at an offset', () => new Uint8Array(bytes.buffer, 10, 50), Buffer.from(bytes.subarray(10, 60))],
    ['DataView at an offset', () => new DataView(bytes.buffer, 5, 100), Buffer.from(bytes.subarray(5, 105))],
    ['Uint16Array', () => new Uint16Array([0x0102, 0x0304]), Buffer.from(new Uint16Array([0x0102, 0x0304]).buffer)],
  ];
  for (const [name, make, expected] of views) {
    it(`${name} is sent as binary with exactly its bytes`, async () => {
      const { client, peer } = await pair();
      const got = nextMessage(peer);
      client.send(make());
      const { data, isBinary } = await got;
      expect(isBinary).toBe(true);
      expect(Buffer.compare(data, expected)).toBe(0);
    });
  }

  it('{binary: true} sends a string as binary; {binary: false} a Buffer as text', async () => {
    const { client, peer } = await pair();
    const got: Array<[string, boolean]> = [];
    peer.on('message', (data, isBinary) => got.push([data.toString(), isBinary]));
    client.send('as binary', { binary: true });
    client.send(Buffer.from('as text'), { binary: false });
    await waitFor(() => got.length === 2);
    expect(got).toEqual([
      ['as binary', true],
      ['as text', false],
    ]);
  });

  it('empty text and empty binary messages', async () => {
    const client = await echoClient();
    const got: Array<[number, boolean]> = [];
    client.on('message', (data, isBinary) => got.push([data.length, isBinary]));
    client.send('');
    client.send(Buffer.alloc(0));
    client.send(new ArrayBuffer(0));
    await waitFor(() => got.length === 3);
    expect(got).toEqual([
      [0, false],
      [0, true],
      [0, true],
    ]);
  });

  it('1 MiB binary and 1 MiB text round-trip intact', async () => {
    const client = await echoClient();
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 8)) & 0xff;
    const bin = nextMessage(client, 10_000);
    client.send(big);
    const back = await bin;
    expect(back.isBinary).toBe(true);
    expect(back.data.length).toBe(big.length);
    expect(Buffer.compare(back.data, big)).toBe(0);
    const str = 'é'.repeat(512 * 1024); // 1 MiB of UTF-8
    const txt = nextMessage(client, 10_000);
    client.send(str);
    const t = await txt;
    expect(t.isBinary).toBe(false);
    expect(t.data.toString()).toBe(str);
  });

  it('many small messages keep their order', async () => {
    const client = await echoClient();
    const got: string[] = [];
    client.on('message', (data) => got.push(data.toString()));
    for (let i = 0; i < 500; i++) client.send(String(i));
    await waitFor(() => got.length === 500);
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => String(i)));
  });

  it('send callbacks run once written; send() before open throws', async () => {
    const client = await echoClient();
    const done = await new Promise<unknown>((resolve) => client.send('x', (error) => resolve(error)));
    expect(done == null).toBe(true);
    const fresh = new WebSocket(client.url);
    defer(() => fresh.terminate());
    expect(fresh.readyState).toBe(WebSocket.CONNECTING);
    expect(() => fresh.send('too early')).toThrow(/CONNECTING/);
    expect(() => fresh.ping()).toThrow(/CONNECTING/);
  });
});

describe('fragmentation and streaming', () => {
  it('send(data, {fin: false}) … {fin: true} arrives as one message', async () => {
    const { client, peer } = await pair();
    const got = nextMessage(peer);
    client.send('one ', { fin: false });
    client.send('two ', { fin: false });
    client.send('three', { fin: true });
    const { data, isBinary } = await got;
    expect(data.toString()).toBe('one two three');
    expect(isBinary).toBe(false);
  });

  it('a fragmented binary message, fragments of any size including empty', async () => {
    const { client, peer } = await pair();
    const got = nextMessage(peer);
    client.send(Buffer.from([1, 2]), { fin: false });
    client.send(Buffer.alloc(0), { fin: false });
    client.send(Buffer.alloc(70_000, 3), { fin: false });
    client.send(Buffer.from([4]), { fin: true });
    const { data, isBinary } = await got;
    expect(isBinary).toBe(true);
    expect(data.length).toBe(70_003);
    expect([data[0], data[1], data[2], data[70_001], data[70_002]]).toEqual([1, 2, 3, 3, 4]);
  });

  it('a control frame may come between fragments (§5.4)', async () => {
    const { client, peer } = await pair();
    const ping = once<[Buffer]>(peer, 'ping');
    const got = nextMessage(peer);
    client.send('a', { fin: false });
    client.ping('between');
    client.send('b', { fin: true });
    expect((await ping)[0].toString()).toBe('between');
    expect((await got).data.toString()).toBe('ab');
  });

  it('sendStream sends one message from an async iterable, resolving when written', async () => {
    const { client, peer } = await pair();
    const got = nextMessage(peer);
    async function* chunks() {
      yield 'alpha,';
      await new Promise((r) => setTimeout(r, 10));
      yield 'beta,';
      yield 'gamma';
    }
    await client.sendStream(chunks());
    const { data, isBinary } = await got;
    expect(data.toString()).toBe('alpha,beta,gamma');
    expect(isBinary).toBe(false);
  });

  it('sendStream with {binary: true} and an empty iterable sends one empty binary message', async () => {
    const { client, peer } = await pair();
    const got: Array<[number, boolean]> = [];
    peer.on('message', (data, isBinary) => got.push([data.length, isBinary]));
    await client.sendStream([Buffer.from([1]), Buffer.from([2, 3])], { binary: true });
    await client.sendStream([], { binary: true });
    await waitFor(() => got.length === 2);
    expect(got).toEqual([
      [3, true],
      [0, true],
    ]);
  });

  it('streaming: true delivers fragment events (data, isBinary, fin) and no message events', async () => {
    const { client, peer } = await pair({ streaming: true });
    const fragments: Array<[string, boolean, boolean]> = [];
    let messages = 0;
    peer.on('fragment', (data, isBinary, fin) => fragments.push([data.toString(), isBinary, fin]));
    peer.on('message', () => messages++);
    client.send('f1', { fin: false });
    client.send('f2', { fin: false });
    client.send('f3', { fin: true });
    client.send(Buffer.from('whole'));
    await waitFor(() => fragments.length >= 4);
    expect(fragments).toEqual([
      ['f1', false, false],
      ['f2', false, false],
      ['f3', false, true],
      ['whole', true, true],
    ]);
    expect(messages).toBe(0);
  });

  it('streaming: true on the client, for a large message from the server: pieces sum to it', async () => {
    const { url, server } = await startServer(defer);
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    server.on('connection', (ws) => ws.send(big));
    const client = await connect(url, { streaming: true });
    defer(() => client.terminate());
    let total = 0;
    let pieces = 0;
    const finished = new Promise<void>((resolve) =>
      client.on('fragment', (data, isBinary, fin) => {
        expect(isBinary).toBe(true);
        total += data.length;
        pieces++;
        if (fin) resolve();
      }),
    );
    await finished;
    expect(total).toBe(big.length);
    expect(pieces).toBeGreaterThan(1); // handed out as it arrived, not buffered whole
  });
});

describe('ping and pong', () => {
  it('ping with a payload: the peer gets a ping event, we get the auto-pong with the same payload', async () => {
    const { client, peer } = await pair();
    const pinged = once<[Buffer]>(peer, 'ping');
    const ponged = once<[Buffer]>(client, 'pong');
    client.ping('are you there');
    expect((await pinged)[0].toString()).toBe('are you there');
    expect((await ponged)[0].toString()).toBe('are you there');
  });

  it('server pings the client; the client answers automatically', async () => {
    const { client, peer } = await pair();
    const pinged = once<[Buffer]>(client, 'ping');
    const ponged = once<[Buffer]>(peer, 'pong');
    peer.ping(Buffer.from([0, 1, 2, 255]));
    expect([...(await pinged)[0]]).toEqual([0, 1, 2, 255]);
    expect([...(await ponged)[0]]).toEqual([0, 1, 2, 255]);
  });

  it('an empty ping, a 125-byte ping, an unsolicited pong; 126 bytes throws', async () => {
    const { client, peer } = await pair();
    const pongs: number[] = [];
    client.on('pong', (data) => pongs.push(data.length));
    client.ping();
    client.ping(Buffer.alloc(125, 1));
    await waitFor(() => pongs.length === 2);
    expect(pongs).toEqual([0, 125]);
    const unsolicited = once<[Buffer]>(peer, 'pong');
    client.pong('just so');
    expect((await unsolicited)[0].toString()).toBe('just so');
    expect(() => client.ping(Buffer.alloc(126))).toThrow(RangeError);
  });

  it('ping callback reports an error once closing', async () => {
    const { client } = await pair();
    client.close(1000);
    const error = await new Promise<unknown>((resolve) => client.ping('late', (e) => resolve(e)));
    expect(error).toBeInstanceOf(Error);
  });
});

describe('readyState and bufferedAmount', () => {
  it('CONNECTING → OPEN → CLOSING → CLOSED', async () => {
    const { url } = await startEchoServer(defer);
    const ws = new WebSocket(url);
    defer(() => ws.terminate());
    expect(ws.readyState).toBe(0);
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    await once(ws, 'open');
    expect(ws.readyState).toBe(WebSocket.OPEN);
    const done = closed(ws);
    ws.close(1000);
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    await done;
    expect(ws.readyState).toBe(WebSocket.CLOSED);
    expect([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED]).toEqual([0, 1, 2, 3]);
    // As in browsers, the constants live on the prototype, not on every connection.
    expect(Object.keys(ws)).not.toContain('OPEN');
    expect(Object.keys(WebSocket.prototype)).toEqual(expect.arrayContaining(['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']));
  });

  it('the server side goes CLOSING when the peer closes and CLOSED after', async () => {
    const { client, peer } = await pair();
    const states: number[] = [];
    peer.on('close', () => states.push(peer.readyState));
    client.close();
    await closed(client);
    await waitFor(() => states.length === 1);
    expect(states).toEqual([WebSocket.CLOSED]);
  });

  it('bufferedAmount counts messages batched for this tick, and drops to 0 once written', async () => {
    const { client, peer } = await pair();
    expect(client.bufferedAmount).toBe(0);
    const got = nextMessage(peer);
    // Small frames are batched until the end of the tick (one write per batch), so they are counted.
    expect(client.send(Buffer.alloc(1000))).toBe(true);
    expect(client.send('x'.repeat(500))).toBe(true);
    expect(client.bufferedAmount).toBeGreaterThanOrEqual(1500);
    await got;
    await waitFor(() => client.bufferedAmount === 0, 5000, 'bufferedAmount back to 0');
  });

  it('a peer that does not read: send() returns false, bufferedAmount grows; drain follows once it reads', async () => {
    const { client, peer } = await pair();
    peer.pause();
    const chunk = Buffer.alloc(64 * 1024);
    let sent = 0;
    let lastResult = true;
    // The kernel takes a few MiB first; past that the socket buffers and bufferedAmount shows it.
    while (client.bufferedAmount === 0 && sent < 256 * 1024 * 1024) {
      lastResult = client.send(chunk);
      sent += chunk.length;
      if (sent % (1024 * 1024) === 0) await new Promise((r) => setTimeout(r, 1));
    }
    expect(client.bufferedAmount).toBeGreaterThan(0);
    expect(lastResult).toBe(false);
    let received = 0;
    peer.on('message', (data) => (received += data.length));
    const drained = once(client, 'drain', 10_000);
    peer.resume();
    await drained;
    await waitFor(() => received === sent, 10_000, 'everything received');
    expect(client.bufferedAmount).toBe(0);
  });

  it('after close, send() returns false, calls back with an error and adds to bufferedAmount (WHATWG)', async () => {
    const { client } = await pair();
    const done = closed(client);
    client.close(1000);
    await done;
    const before = client.bufferedAmount;
    const error = await new Promise<unknown>((resolve) => expect(client.send('abc', (e) => resolve(e))).toBe(false));
    expect(error).toBeInstanceOf(Error);
    expect(client.bufferedAmount).toBe(before + 3);
  });
});

describe('binaryType', () => {
  async function receiveAs(binaryType: WebSocket['binaryType']): Promise<unknown> {
    const { client, peer } = await pair();
    client.binaryType = binaryType;
    const got = nextMessage(client);
    peer.send(Buffer.from([9, 8, 7]));
    return (await got).data;
  }

  it('nodebuffer (default) → Buffer', async () => {
    const data = await receiveAs('nodebuffer');
    expect(Buffer.isBuffer(data)).toBe(true);
    expect([...(data as Buffer)]).toEqual([9, 8, 7]);
  });

  it('arraybuffer → an ArrayBuffer of exactly the message', async () => {
    const data = await receiveAs('arraybuffer');
    expect(data).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(data as ArrayBuffer)]).toEqual([9, 8, 7]);
  });

  it('fragments → an array of Buffers', async () => {
    const data = (await receiveAs('fragments')) as Buffer[];
    expect(Array.isArray(data)).toBe(true);
    expect([...Buffer.concat(data)]).toEqual([9, 8, 7]);
  });

  it('blob → a Blob', async () => {
    const data = await receiveAs('blob');
    expect(data).toBeInstanceOf(Blob);
    expect([...new Uint8Array(await (data as Blob).arrayBuffer())]).toEqual([9, 8, 7]);
  });

  it('text stays a Buffer in on("message") whatever binaryType says', async () => {
    const { client, peer } = await pair();
    client.binaryType = 'arraybuffer';
    const got = nextMessage(client);
    peer.send('text');
    const { data, isBinary } = await got;
    expect(isBinary).toBe(false);
    expect(data.toString()).toBe('text');
  });
});

describe('browser-style surface', () => {
  it('onopen, onmessage (data is a string for text), onclose with a CloseEvent', async () => {
    const { url, server } = await startServer(defer);
    server.on('connection', (ws) => {
      ws.send('hello text');
      ws.send(Buffer.from([1, 2]));
      ws.on('message', () => ws.close(4000, 'done'));
    });
    const ws = new WebSocket(url);
    defer(() => ws.terminate());
    ws.binaryType = 'arraybuffer';
    const events: unknown[] = [];
    const finished = new Promise<CloseEvent>((resolve) => {
      ws.onopen = (event) => {
        events.push(['open', event.type, event.target === ws]);
        ws.send('reply');
      };
      ws.onmessage = (event) => events.push(['message', event.data instanceof ArrayBuffer ? [...new Uint8Array(event.data as ArrayBuffer)] : event.data]);
      ws.onclose = (event) => resolve(event);
    });
    const event = await finished;
    expect(events).toEqual([
      ['open', 'open', true],
      ['message', 'hello text'],
      ['message', [1, 2]],
    ]);
    expect(event).toBeInstanceOf(CloseEvent);
    expect([event.type, event.code, event.reason, event.wasClean]).toEqual(['close', 4000, 'done', true]);
    expect(ws.onopen).toBeTypeOf('function');
  });

  it('MessageEvent objects', async () => {
    const { client, peer } = await pair();
    const got = new Promise<MessageEvent>((resolve) => client.addEventListener('message', resolve));
    peer.send('x');
    const event = await got;
    expect(event).toBeInstanceOf(MessageEvent);
    expect(event.data).toBe('x');
    expect(event.target).toBe(client);
    expect(event.currentTarget).toBe(client);
  });

  it('onerror and onclose for a connection that fails (nothing listening)', async () => {
    const { url, server } = await startServer(defer);
    await server.close();
    const ws = new WebSocket(url);
    const order: string[] = [];
    const done = new Promise<void>((resolve) => {
      ws.onerror = (event) => order.push(`error:${event instanceof ErrorEvent && event.error instanceof Error}`);
      ws.onclose = (event) => {
        order.push(`close:${event.code}:${event.wasClean}`);
        resolve();
      };
    });
    await done;
    expect(order).toEqual(['error:true', 'close:1006:false']);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  it('setting an on* handler replaces the previous one; null removes it', async () => {
    const { client, peer } = await pair();
    const calls: string[] = [];
    client.onmessage = () => calls.push('first');
    client.onmessage = () => calls.push('second');
    peer.send('1');
    await waitFor(() => calls.length === 1);
    client.onmessage = null;
    expect(client.onmessage).toBe(null);
    const next = nextMessage(client);
    peer.send('2');
    await next;
    expect(calls).toEqual(['second']);
  });

  it('addEventListener / removeEventListener, {once}, handleEvent objects, coexisting with on()', async () => {
    const { client, peer } = await pair();
    const calls: string[] = [];
    const a = (e: MessageEvent) => calls.push(`a:${e.data}`);
    const b = (e: MessageEvent) => calls.push(`once:${e.data}`);
    const c = { handleEvent: (e: MessageEvent) => calls.push(`obj:${e.data}`) };
    client.addEventListener('message', a);
    client.addEventListener('message', b, { once: true });
    client.addEventListener('message', c);
    client.on('message', (data) => calls.push(`on:${data}`));
    peer.send('1');
    await waitFor(() => calls.length === 4);
    client.removeEventListener('message', a);
    client.removeEventListener('message', c);
    peer.send('2');
    await waitFor(() => calls.length === 5);
    expect(calls).toEqual(['a:1', 'once:1', 'obj:1', 'on:1', 'on:2']);
  });

  it('removeEventListener of a {once} listener before it fired', async () => {
    const { client, peer } = await pair();
    const calls: string[] = [];
    const a = () => calls.push('a');
    client.addEventListener('message', a, { once: true });
    client.removeEventListener('message', a);
    const next = nextMessage(client);
    peer.send('x');
    await next;
    expect(calls).toEqual([]);
  });
});

describe('async iteration', () => {
  it('for await yields Message objects and ends when the connection closes', async () => {
    const { url, server } = await startServer(defer);
    server.on('connection', (ws) => {
      ws.send('first');
      ws.send(Buffer.from([1, 2, 3]));
      ws.send(JSON.stringify({ n: 3 }));
      ws.close(1000, 'bye');
    });
    const client = await connect(url);
    defer(() => client.terminate());
    const got: Message[] = [];
    for await (const m of client) got.push(m);
    expect(got.every((m) => m instanceof Message)).toBe(true);
    expect(got.map((m) => [m.isBinary, m.isBinary ? [...m.data] : m.text()])).toEqual([
      [false, 'first'],
      [true, [1, 2, 3]],
      [false, '{"n":3}'],
    ]);
    expect(got[2].json()).toEqual({ n: 3 });
    expect(client.readyState).toBe(WebSocket.CLOSED);
  });

  it('break ends the iteration without closing; iterating a closed socket ends at once', async () => {
    const client = await echoClient();
    client.send('a');
    client.send('b');
    for await (const m of client) {
      expect(m.text()).toBe('a');
      break;
    }
    expect(client.readyState).toBe(WebSocket.OPEN);
    const done = closed(client);
    client.close();
    await done;
    const rest: Message[] = [];
    for await (const m of client) rest.push(m);
    expect(rest).toEqual([]);
  });

  it('a fast sender does not lose messages while the consumer is slow', async () => {
    const { url, server } = await startServer(defer);
    server.on('connection', (ws) => {
      for (let i = 0; i < 300; i++) ws.send(String(i));
      ws.close(1000);
    });
    const client = await connect(url);
    defer(() => client.terminate());
    const got: string[] = [];
    for await (const m of client) {
      got.push(m.text());
      if (got.length % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => String(i)));
  });
});

describe('isolation', () => {
  it('a listener that throws on one connection does not affect another', async () => {
    const { url, server } = await startServer(defer);
    const seen: string[] = [];
    server.on('connection', (ws) => ws.on('message', (data) => {
      seen.push(data.toString());
      ws.send(data);
    }));
    const a = await connect(url);
    const b = await connect(url);
    defer(() => a.terminate());
    defer(() => b.terminate());
    const replyA = nextMessage(a);
    const replyB = nextMessage(b);
    a.send('to a');
    b.send('to b');
    expect((await replyA).data.toString()).toBe('to a');
    expect((await replyB).data.toString()).toBe('to b');
    expect(seen.sort()).toEqual(['to a', 'to b']);
  });
});
