import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import {
  acceptKey,
  buildAcceptResponse,
  buildErrorResponse,
  checkRequest,
  checkResponse,
  generateKey,
  parseList,
  type Headers,
  type UpgradeRequest,
} from '../../src/protocol/handshake.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
// RFC 6455 §1.3: base64 of SHA-1 b37a4f2cc0624f1690f64606cf385945b2bec4ea.
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

function request(headers: Headers = {}, rest: Partial<UpgradeRequest> = {}): UpgradeRequest {
  return {
    method: 'GET',
    httpVersion: '1.1',
    headers: {
      host: 'server.example.com',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': KEY,
      'sec-websocket-version': '13',
      ...headers,
    },
    ...rest,
  };
}

function failure(req: UpgradeRequest): { status: number; headers?: Record<string, string> } {
  const result = checkRequest(req);
  if (result.ok) throw new Error('expected the request to be refused');
  return result;
}

describe('acceptKey / generateKey', () => {
  it('computes the RFC 6455 §1.3 example', () => {
    expect(acceptKey(KEY)).toBe(ACCEPT);
  });

  it('is base64(SHA-1(key + GUID)) for other keys', () => {
    const key = 'x3JJHMbDL1EzLkh9GBhXDw==';
    const expected = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    expect(acceptKey(key)).toBe(expected);
    expect(acceptKey(key)).toBe('HSmrc0sMlYUkAGmm5OPpG2HaGWk=');
  });

  it('generates 16 random bytes in base64, different each time, accepted by checkRequest', () => {
    const a = generateKey();
    const b = generateKey();
    expect(a).not.toBe(b);
    expect(Buffer.from(a, 'base64')).toHaveLength(16);
    expect(a).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(checkRequest(request({ 'sec-websocket-key': a })).ok).toBe(true);
  });
});

describe('parseList', () => {
  it('splits, trims and drops empty items; joins arrays', () => {
    expect(parseList(' a , b,,c ,')).toEqual(['a', 'b', 'c']);
    expect(parseList(['a, b', 'c'])).toEqual(['a', 'b', 'c']);
    expect(parseList(undefined)).toEqual([]);
    expect(parseList('')).toEqual([]);
  });
});

describe('checkRequest', () => {
  it('accepts the RFC 6455 §1.2 example request', () => {
    const result = checkRequest(
      request({ origin: 'http://example.com', 'sec-websocket-protocol': 'chat, superchat' }),
    );
    expect(result).toEqual({ ok: true, key: KEY, protocols: ['chat', 'superchat'] });
  });

  it('requires GET (405 with Allow: GET)', () => {
    for (const method of ['POST', 'HEAD', 'get', undefined]) {
      const f = failure(request({}, { method }));
      expect(f.status, String(method)).toBe(405);
      expect(f.headers).toEqual({ Allow: 'GET' });
    }
  });

  it('requires HTTP/1.1 or later (400)', () => {
    expect(failure(request({}, { httpVersion: '1.0' })).status).toBe(400);
    expect(failure(request({}, { httpVersion: '0.9' })).status).toBe(400);
    expect(checkRequest(request({}, { httpVersion: '1.1' })).ok).toBe(true);
    expect(checkRequest(request({}, { httpVersion: '2.0' })).ok).toBe(true);
  });

  it('Upgrade: websocket, case-insensitively and within a list', () => {
    for (const upgrade of ['websocket', 'WebSocket', 'WEBSOCKET', 'foo, WebSocket', 'websocket, h2c', ['foo', 'websocket']]) {
      expect(checkRequest(request({ upgrade })).ok, JSON.stringify(upgrade)).toBe(true);
    }
    for (const upgrade of [undefined, '', 'h2c', 'websockets', 'web socket', 'foo; websocket']) {
      expect(failure(request({ upgrade })).status, JSON.stringify(upgrade)).toBe(400);
    }
  });

  it('Connection must contain Upgrade, case-insensitively and within a list', () => {
    for (const connection of ['Upgrade', 'upgrade', 'keep-alive, Upgrade', 'Upgrade, keep-alive', ['keep-alive', 'UPGRADE']]) {
      expect(checkRequest(request({ connection })).ok, JSON.stringify(connection)).toBe(true);
    }
    for (const connection of [undefined, 'keep-alive', 'close', 'upgrades', 'keep-alive Upgrade']) {
      expect(failure(request({ connection })).status, JSON.stringify(connection)).toBe(400);
    }
  });

  it('Sec-WebSocket-Key must be base64 of 16 bytes (400)', () => {
    const bad = [
      undefined,
      '',
      'dGhlIHNhbXBsZSBub25jZQ', // no padding
      'dGhlIHNhbXBsZSBub25j', // 15 bytes, no padding
      'dGhlIHNhbXBsZSBub25jZQZ=', // 17 characters of data: 17 bytes
      'dGhlIHNhbXBsZSBub25jZQ==AA', // too long
      Buffer.alloc(17).toString('base64'), // 17 bytes
      Buffer.alloc(15).toString('base64'), // 15 bytes
      'dGhlIHNhbXBsZSBub25j!Q==', // not base64
      'dGhlIHNhbXBsZSBub25j ZQ==',
      'dGhlIHNhbXBsZSBub25jZQ=A',
    ];
    for (const key of bad) {
      expect(failure(request({ 'sec-websocket-key': key })).status, JSON.stringify(key)).toBe(400);
    }
    // Surrounding whitespace is not part of a header value.
    const padded = checkRequest(request({ 'sec-websocket-key': `  ${KEY} ` }));
    expect(padded).toMatchObject({ ok: true, key: KEY });
  });

  it('Sec-WebSocket-Version 13 only: other versions get 426 with Sec-WebSocket-Version: 13', () => {
    for (const version of ['8', '7', '14', '13, 8', 'abc']) {
      const f = failure(request({ 'sec-websocket-version': version }));
      expect(f.status, version).toBe(426);
      expect(f.headers?.['Sec-WebSocket-Version']).toBe('13');
    }
    expect(checkRequest(request({ 'sec-websocket-version': ' 13 ' })).ok).toBe(true);
  });

  it('a missing Sec-WebSocket-Version is a 400', () => {
    const f = failure(request({ 'sec-websocket-version': undefined }));
    expect(f.status).toBe(400);
  });

  it('parses subprotocols; duplicates and non-tokens are refused', () => {
    expect(checkRequest(request({ 'sec-websocket-protocol': 'chat' }))).toMatchObject({ ok: true, protocols: ['chat'] });
    expect(checkRequest(request({ 'sec-websocket-protocol': ['a, b', 'c'] }))).toMatchObject({
      ok: true,
      protocols: ['a', 'b', 'c'],
    });
    expect(checkRequest(request())).toMatchObject({ ok: true, protocols: [] });
    // Subprotocol names are case-sensitive: these are distinct.
    expect(checkRequest(request({ 'sec-websocket-protocol': 'chat, Chat' }))).toMatchObject({
      ok: true,
      protocols: ['chat', 'Chat'],
    });
    for (const value of ['chat, chat', 'chat, super chat', 'a/b', 'chat, "x"', 'a;b']) {
      expect(failure(request({ 'sec-websocket-protocol': value })).status, value).toBe(400);
    }
  });
});

describe('buildAcceptResponse', () => {
  it('writes the 101 head with the accept key', () => {
    expect(buildAcceptResponse(KEY)).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\n` +
        '\r\n',
    );
  });

  it('adds the chosen subprotocol and extra lines', () => {
    const head = buildAcceptResponse(KEY, 'chat', ['Sec-WebSocket-Extensions: permessage-deflate', 'X-A: 1']);
    expect(head.endsWith('\r\n\r\n')).toBe(true);
    const lines = head.slice(0, -4).split('\r\n');
    expect(lines).toEqual([
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${ACCEPT}`,
      'Sec-WebSocket-Protocol: chat',
      'Sec-WebSocket-Extensions: permessage-deflate',
      'X-A: 1',
    ]);
  });
});

describe('buildErrorResponse', () => {
  it('writes a complete response with status text, headers and a body of the right length', () => {
    const response = buildErrorResponse(426, 'Sec-WebSocket-Version must be 13', { 'Sec-WebSocket-Version': '13' });
    const [head, body] = response.split('\r\n\r\n');
    const lines = head.split('\r\n');
    expect(lines[0]).toBe('HTTP/1.1 426 Upgrade Required');
    expect(lines).toContain('Connection: close');
    expect(lines).toContain('Sec-WebSocket-Version: 13');
    expect(lines).toContain(`Content-Length: ${body.length}`);
    expect(body).toBe('Sec-WebSocket-Version must be 13');
  });

  it('counts Content-Length in bytes, and has a fallback status text', () => {
    const response = buildErrorResponse(418, 'tea ☕');
    expect(response.startsWith('HTTP/1.1 418 ')).toBe(true);
    expect(response).toContain(`Content-Length: ${Buffer.byteLength('tea ☕')}`);
    expect(Buffer.byteLength('tea ☕')).not.toBe('tea ☕'.length);
    expect(response.endsWith('\r\n\r\ntea ☕')).toBe(true);
    expect(buildErrorResponse(400, 'x').split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(buildErrorResponse(405, 'x', { Allow: 'GET' })).toContain('\r\nAllow: GET\r\n');
  });
});

describe('checkResponse', () => {
  const good: Headers = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': ACCEPT };

  it('accepts a correct 101', () => {
    expect(checkResponse(101, good, KEY, [])).toEqual({ ok: true, protocol: '', extensions: '' });
    expect(checkResponse(101, { ...good, upgrade: 'WebSocket', connection: 'keep-alive, upgrade' }, KEY, []).ok).toBe(true);
  });

  it('refuses a status other than 101', () => {
    expect(checkResponse(200, good, KEY, []).ok).toBe(false);
    expect(checkResponse(undefined, good, KEY, []).ok).toBe(false);
  });

  it('refuses a wrong or missing accept', () => {
    expect(checkResponse(101, { ...good, 'sec-websocket-accept': acceptKey(generateKey()) }, KEY, []).ok).toBe(false);
    expect(checkResponse(101, { ...good, 'sec-websocket-accept': undefined }, KEY, []).ok).toBe(false);
    // The accept of a different key.
    expect(checkResponse(101, good, 'x3JJHMbDL1EzLkh9GBhXDw==', []).ok).toBe(false);
  });

  it('refuses a missing Upgrade or Connection', () => {
    expect(checkResponse(101, { ...good, upgrade: undefined }, KEY, []).ok).toBe(false);
    expect(checkResponse(101, { ...good, upgrade: 'h2c' }, KEY, []).ok).toBe(false);
    expect(checkResponse(101, { ...good, connection: undefined }, KEY, []).ok).toBe(false);
    expect(checkResponse(101, { ...good, connection: 'keep-alive' }, KEY, []).ok).toBe(false);
  });

  it('checks the subprotocol against those offered', () => {
    expect(checkResponse(101, { ...good, 'sec-websocket-protocol': 'chat' }, KEY, ['superchat', 'chat'])).toEqual({
      ok: true,
      protocol: 'chat',
      extensions: '',
    });
    expect(checkResponse(101, { ...good, 'sec-websocket-protocol': 'chat' }, KEY, []).ok).toBe(false);
    expect(checkResponse(101, { ...good, 'sec-websocket-protocol': 'other' }, KEY, ['chat']).ok).toBe(false);
    // A list is not one subprotocol.
    expect(checkResponse(101, { ...good, 'sec-websocket-protocol': 'chat, superchat' }, KEY, ['chat', 'superchat']).ok).toBe(false);
    expect(checkResponse(101, { ...good, 'sec-websocket-protocol': '' }, KEY, ['chat']).ok).toBe(false);
    // The server may decline all offered subprotocols.
    expect(checkResponse(101, good, KEY, ['chat'])).toMatchObject({ ok: true, protocol: '' });
  });

  it('checks extensions against those offered', () => {
    const ext = 'permessage-deflate; server_no_context_takeover';
    expect(checkResponse(101, { ...good, 'sec-websocket-extensions': ext }, KEY, [], ['permessage-deflate'])).toEqual({
      ok: true,
      protocol: '',
      extensions: ext,
    });
    expect(checkResponse(101, { ...good, 'sec-websocket-extensions': ext }, KEY, []).ok).toBe(false);
    expect(checkResponse(101, { ...good, 'sec-websocket-extensions': 'x-webkit-deflate-frame' }, KEY, [], ['permessage-deflate']).ok).toBe(
      false,
    );
  });
});
