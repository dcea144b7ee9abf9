// ClientHandshake without sockets, and a full handshake between it and ServerHandshake whose
// results drive two Connections wired to each other in memory.
import { describe, expect, it } from 'vitest';
import { acceptKey, ClientHandshake, Connection, ServerHandshake, type ConnectionEvents, type Headers } from '../../src/protocol/index.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** A response head parsed into a status and lower-cased header map. */
function parseHead(head: string): { status: number; headers: Headers } {
  const [first, ...lines] = head.split('\r\n\r\n')[0].split('\r\n');
  const headers: Headers = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(first.split(' ')[1]), headers };
}

function response101(extra: Headers = {}): Headers {
  return { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': acceptKey(KEY), ...extra };
}

describe('ClientHandshake', () => {
  it('builds the request headers: key, version, protocols, deflate offer', () => {
    const hs = new ClientHandshake({ key: KEY, protocols: ['chat', 'superchat'] });
    expect(hs.requestHeaders()).toEqual({
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Key': KEY,
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Protocol': 'chat, superchat',
      'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits',
    });
    expect(new ClientHandshake({ perMessageDeflate: false }).requestHeaders()['Sec-WebSocket-Extensions']).toBeUndefined();
    expect(new ClientHandshake().key).toMatch(/^[A-Za-z0-9+/]{22}==$/);
  });

  it('refuses bad subprotocols and keys at construction', () => {
    expect(() => new ClientHandshake({ protocols: ['a', 'a'] })).toThrow(SyntaxError);
    expect(() => new ClientHandshake({ protocols: ['a b'] })).toThrow(SyntaxError);
    expect(() => new ClientHandshake({ protocols: 'a\r\nX: y' })).toThrow(SyntaxError);
    expect(() => new ClientHandshake({ key: 'short' })).toThrow(TypeError);
  });

  it('requestHead: a whole GET, extra headers checked', () => {
    const hs = new ClientHandshake({ key: KEY, perMessageDeflate: false });
    expect(hs.requestHead('/chat?x=1', 'example.com:8080', { Origin: 'http://example.com' })).toBe(
      `GET /chat?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\r\n`,
    );
    expect(() => hs.requestHead('/', 'h', { 'X-A': 'a\r\nb' })).toThrow(TypeError);
    expect(() => hs.requestHead('/', 'h\r\nX: y')).toThrow(TypeError);
    expect(() => hs.requestHead('/', 'h', { upgrade: 'h2c' })).toThrow(TypeError);
    expect(() => hs.requestHead('/a b', 'h')).toThrow(TypeError);
  });

  it('checkResponse: protocol, extensions and the Connection deflate options, or why not', () => {
    const hs = new ClientHandshake({ key: KEY, protocols: ['chat'], maxPayload: 10 });
    expect(hs.checkResponse(101, response101({ 'sec-websocket-protocol': 'chat', 'sec-websocket-extensions': 'permessage-deflate; server_max_window_bits=10' }))).toEqual({
      ok: true,
      protocol: 'chat',
      extensions: 'permessage-deflate; server_max_window_bits=10',
      connection: {
        maxPayload: 10,
        streaming: undefined,
        deflate: {
          params: { deflateNoContextTakeover: false, inflateNoContextTakeover: false, deflateWindowBits: 15, inflateWindowBits: 10 },
          options: {},
        },
      },
    });
    expect(hs.checkResponse(101, response101())).toMatchObject({ ok: true, protocol: '', extensions: '', connection: { deflate: null } });
    expect(hs.checkResponse(403, {})).toEqual({ ok: false, message: 'Unexpected server response: 403' });
    expect(hs.checkResponse(101, response101({ 'sec-websocket-accept': 'wrong' }))).toMatchObject({ ok: false, message: /Accept/ });
    expect(hs.checkResponse(101, response101({ 'sec-websocket-protocol': 'other' }))).toMatchObject({ ok: false, message: /not offered/ });
    expect(hs.checkResponse(101, response101({ 'sec-websocket-extensions': 'permessage-deflate; foo' }))).toMatchObject({ ok: false, message: /parameters/ });
    const plain = new ClientHandshake({ key: KEY, perMessageDeflate: false });
    expect(plain.checkResponse(101, response101({ 'sec-websocket-extensions': 'permessage-deflate' }))).toMatchObject({ ok: false, message: /not offered/ });
  });
});

describe('ClientHandshake ⇄ ServerHandshake, then two Connections', () => {
  it('agree on protocol and deflate, and a compressed message crosses intact', async () => {
    const client = new ClientHandshake({ protocols: ['v1', 'v2'] });
    const head = client.requestHead('/ws', 'example.com');
    const [requestLine, ...lines] = head.split('\r\n\r\n')[0].split('\r\n');
    const headers: Record<string, string> = {};
    const rawHeaders: string[] = [];
    for (const line of lines) {
      const [name, value] = [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()];
      headers[name.toLowerCase()] = value;
      rawHeaders.push(name, value);
    }
    const server = new ServerHandshake({ path: '/ws', perMessageDeflate: true, handleProtocols: (set) => (set.has('v2') ? 'v2' : false) });
    const accepted = server.negotiate({ method: 'GET', url: requestLine.split(' ')[1], httpVersion: '1.1', headers, rawHeaders });
    if (!accepted.ok) throw new Error(accepted.message);
    const { status, headers: responseHeaders } = parseHead(accepted.response);
    const agreed = client.checkResponse(status, responseHeaders);
    if (!agreed.ok) throw new Error(agreed.message);
    expect(agreed.protocol).toBe('v2');
    expect(agreed.extensions).toBe(accepted.extensions);
    expect(agreed.connection.deflate?.params).toEqual({
      deflateNoContextTakeover: accepted.connection.deflate!.params.inflateNoContextTakeover,
      inflateNoContextTakeover: accepted.connection.deflate!.params.deflateNoContextTakeover,
      deflateWindowBits: accepted.connection.deflate!.params.inflateWindowBits,
      inflateWindowBits: accepted.connection.deflate!.params.deflateWindowBits,
    });

    let serverSide: Connection;
    let clientSide: Connection;
    const wire: Buffer[] = [];
    const received = new Promise<Buffer>((resolve) => {
      const noop = () => {};
      const toServer: ConnectionEvents = {
        output: () => {
          for (const bytes of clientSide.takeOutput()?.parts ?? []) {
            wire.push(Buffer.from(bytes));
            serverSide.receive(bytes);
          }
        },
        resumeReading: noop, message: noop, fragment: noop, ping: noop, pong: noop, closed: noop, failed: noop,
      };
      const atServer: ConnectionEvents = { ...toServer, output: noop, message: (data) => resolve(data) };
      serverSide = new Connection('server', atServer, accepted.connection);
      clientSide = new Connection('client', toServer, agreed.connection);
      clientSide.send(Buffer.from('x'.repeat(5000)), false);
    });
    expect((await received).toString()).toBe('x'.repeat(5000));
    // RSV1 on the wire: the message was compressed, and far smaller than 5000 bytes.
    expect(wire[0][0] & 0x40).toBe(0x40);
    expect(Buffer.concat(wire).length).toBeLessThan(200);
  });
});
