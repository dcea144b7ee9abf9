/** The standalone server's own request-head parser (RFC 9112 §2–§5), without sockets. */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isUpgrade, parseRequestHead, RequestHead } from '../../src/node/request-head.js';

const socket = {} as Socket;

function parse(text: string) {
  const bytes = Buffer.from(text, 'latin1');
  return parseRequestHead(bytes, bytes.length, socket);
}

describe('parseRequestHead', () => {
  it('reads the request line and fields as node:http gives them', () => {
    const head = parse('GET /chat?x=1 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a:  2 \r\nSet-Cookie: s=1\r\nSet-Cookie: t=2\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade');
    expect(head).toBeInstanceOf(RequestHead);
    const h = head as RequestHead;
    expect([h.method, h.url, h.httpVersion, h.httpVersionMajor, h.httpVersionMinor]).toEqual(['GET', '/chat?x=1', '1.1', 1, 1]);
    expect(h.headers).toEqual({ host: 'a', 'x-a': '1, 2', 'set-cookie': ['s=1', 't=2'], upgrade: 'websocket', connection: 'keep-alive, Upgrade' });
    expect(h.rawHeaders).toEqual(['Host', 'a', 'X-A', '1', 'x-a', '2', 'Set-Cookie', 's=1', 'Set-Cookie', 't=2', 'Upgrade', 'websocket', 'Connection', 'keep-alive, Upgrade']);
    expect(h.connection).toBe(socket);
    expect(isUpgrade(h)).toBe(true);
  });

  it('is not an upgrade without both Connection: upgrade and Upgrade', () => {
    expect(isUpgrade(parse('GET / HTTP/1.1\r\nUpgrade: websocket') as RequestHead)).toBe(false);
    expect(isUpgrade(parse('GET / HTTP/1.1\r\nConnection: upgraded\r\nUpgrade: websocket') as RequestHead)).toBe(false);
  });

  it.each([
    ['a malformed request line', 'GET /\r\nHost: a'],
    ['two spaces in the request line', 'GET  / HTTP/1.1'],
    ['a version of three digits', 'GET / HTTP/1.10'],
    ['obsolete line folding', 'GET / HTTP/1.1\r\nX-A: 1\r\n 2'],
    ['a space before the colon', 'GET / HTTP/1.1\r\nX-A : 1'],
    ['a line without a colon', 'GET / HTTP/1.1\r\nX-A'],
    ['a bare LF inside a line', 'GET / HTTP/1.1\r\nX-A: 1\nX-B: 2'],
    ['a bare CR inside a value', 'GET / HTTP/1.1\r\nX-A: 1\rX-B: 2'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nX-A: a\u0000b'],
  ])('refuses %s with 400', (_what, text) => {
    expect(parse(text)).toMatchObject({ status: 400 });
  });
});
