// ServerHandshake without sockets: a request object in, a refusal or the 101 and the
// Connection's options out.
import { describe, expect, it } from 'vitest';
import { acceptKey, ServerHandshake, refusalResponse, type UpgradeRequest } from '../../src/protocol/index.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function request(headers: Record<string, string> = {}, rest: Partial<UpgradeRequest> = {}): UpgradeRequest {
  const all: Record<string, string> = {
    host: 'server.example.com',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': KEY,
    'sec-websocket-version': '13',
    ...headers,
  };
  return { method: 'GET', url: '/chat', httpVersion: '1.1', headers: all, rawHeaders: Object.entries(all).flat(), ...rest };
}

function refusal(result: ReturnType<ServerHandshake['negotiate']>): { status: number; message: string } {
  if (result.ok) throw new Error('expected a refusal');
  return result;
}

describe('ServerHandshake.negotiate', () => {
  it('accepts: the 101 head, no protocol or extension, the Connection options', () => {
    const result = new ServerHandshake({ maxPayload: 1000, streaming: true }).negotiate(request());
    expect(result).toEqual({
      ok: true,
      response: `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(KEY)}\r\n\r\n`,
      protocol: '',
      extensions: '',
      connection: { maxPayload: 1000, streaming: true, deflate: null },
    });
  });

  it('picks the first subprotocol offered by default, or asks handleProtocols with the request', () => {
    const offered = request({ 'sec-websocket-protocol': 'a, b' });
    const first = new ServerHandshake().negotiate(offered);
    expect(first).toMatchObject({ ok: true, protocol: 'a' });
    expect(first.ok && first.response).toContain('\r\nSec-WebSocket-Protocol: a\r\n');
    let seen: unknown;
    const chosen = new ServerHandshake({ handleProtocols: (set, req) => ((seen = req), set.has('b') ? 'b' : false) }).negotiate(offered);
    expect(chosen).toMatchObject({ ok: true, protocol: 'b' });
    expect(seen).toBe(offered);
    const none = new ServerHandshake({ handleProtocols: () => false }).negotiate(offered);
    expect(none.ok && none.response).not.toContain('Sec-WebSocket-Protocol');
  });

  it('a chosen subprotocol that is not a token is a 500, never a header line', () => {
    const result = new ServerHandshake({ handleProtocols: () => 'a\r\nSet-Cookie: x=1' }).negotiate(request({ 'sec-websocket-protocol': 'a' }));
    expect(refusal(result).status).toBe(500);
  });

  it('negotiates permessage-deflate when enabled, giving the codec parameters', () => {
    const offer = request({ 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' });
    expect(new ServerHandshake().negotiate(offer)).toMatchObject({ ok: true, extensions: '', connection: { deflate: null } });
    const result = new ServerHandshake({ perMessageDeflate: { serverNoContextTakeover: true } }).negotiate(offer);
    expect(result).toMatchObject({
      ok: true,
      extensions: 'permessage-deflate; server_no_context_takeover',
      connection: {
        deflate: {
          params: { deflateNoContextTakeover: true, inflateNoContextTakeover: false, deflateWindowBits: 15, inflateWindowBits: 15 },
          options: { serverNoContextTakeover: true },
        },
      },
    });
    expect(result.ok && result.response).toContain('\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n');
  });
});

describe('ServerHandshake request rules', () => {
  const hs = new ServerHandshake({ path: '/chat' });

  it('Host: missing or repeated (counted in rawHeaders) → 400', () => {
    const { host: _, ...noHost } = request().headers as Record<string, string>;
    expect(refusal(hs.negotiate({ ...request(), headers: noHost, rawHeaders: Object.entries(noHost).flat() })).status).toBe(400);
    const twice = request();
    twice.rawHeaders = [...twice.rawHeaders!, 'Host', 'other.example'];
    expect(refusal(hs.negotiate(twice)).status).toBe(400);
    // Without rawHeaders, an array value is the only sign of a repeat.
    expect(refusal(hs.negotiate({ ...request(), rawHeaders: undefined, headers: { ...request().headers, host: ['a', 'b'] } })).status).toBe(400);
  });

  it('absolute-form targets: the path inside is matched', () => {
    expect(hs.negotiate(request({}, { url: 'http://server.example.com/chat?x=1' })).ok).toBe(true);
    expect(hs.negotiate(request({}, { url: 'wss://server.example.com/chat' })).ok).toBe(true);
    expect(refusal(hs.negotiate(request({}, { url: 'http://server.example.com/other' }))).status).toBe(404);
    expect(refusal(hs.negotiate(request({}, { url: '/other' }))).status).toBe(404);
    for (const url of ['*', 'chat', 'ftp://server.example.com/chat', '/chat#frag', 'http:/chat', 'http:chat']) {
      expect(refusal(new ServerHandshake().negotiate(request({}, { url }))).status, url).toBe(400);
    }
    expect(hs.matchesPath('http://h/chat')).toBe(true);
    expect(hs.matchesPath('/chat?q')).toBe(true);
    expect(hs.matchesPath('/chat/')).toBe(false);
  });

  it('a body (Content-Length other than 0, any Transfer-Encoding) → 400', () => {
    expect(refusal(hs.negotiate(request({ 'content-length': '5' }))).status).toBe(400);
    expect(refusal(hs.negotiate(request({ 'transfer-encoding': 'chunked' }))).status).toBe(400);
    expect(refusal(hs.negotiate(request({ 'transfer-encoding': 'identity' }))).status).toBe(400);
    expect(hs.negotiate(request({ 'content-length': '0' })).ok).toBe(true);
  });

  it('check then accept: the two steps give what negotiate gives', () => {
    const checked = hs.check(request({ 'sec-websocket-protocol': 'x' }));
    expect(checked).toMatchObject({ ok: true, key: KEY, protocols: ['x'], path: '/chat' });
    if (!checked.ok) return;
    expect(hs.accept(checked)).toEqual(hs.negotiate(request({ 'sec-websocket-protocol': 'x' })));
  });
});

describe('refusalResponse', () => {
  it('writes status, headers and body', () => {
    const text = refusalResponse({ status: 401, message: 'no', headers: { 'WWW-Authenticate': 'Bearer' } });
    expect(text).toBe('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nWWW-Authenticate: Bearer\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\nno');
  });

  it('an unsafe header or status becomes a plain 500 with none of the given headers', () => {
    const unsafe: Array<Record<string, string>> = [{ 'X-A': 'a\r\nX-B: b' }, { 'X-A': 'a\nb' }, { 'X-A': 'a\0' }, { 'X\r\nB': 'a' }, { 'X A': 'a' }, { '': 'a' }, { 'Content-Length': '9' }];
    for (const headers of unsafe) {
      const text = refusalResponse({ status: 403, message: 'no', headers });
      expect(text.startsWith('HTTP/1.1 500 Internal Server Error\r\n'), JSON.stringify(headers)).toBe(true);
      expect(text).not.toMatch(/X-A|X-B|\r\nB:|Content-Length: 9/);
    }
    expect(refusalResponse({ status: 101, message: 'x' }).startsWith('HTTP/1.1 500 ')).toBe(true);
    expect(refusalResponse({ status: 403.5, message: 'x' }).startsWith('HTTP/1.1 500 ')).toBe(true);
    // obs-text and tabs are field content.
    expect(refusalResponse({ status: 403, message: 'x', headers: { 'X-A': 'caf\xe9\tok' } })).toContain('X-A: caf\xe9\tok');
  });
});
