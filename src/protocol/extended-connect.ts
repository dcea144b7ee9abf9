/**
 * The opening handshake of a WebSocket over HTTP/2 (RFC 8441 §4–§5), I/O-free: an extended CONNECT
 * request (`:method CONNECT`, `:protocol websocket`) answered by `:status 200`. There is no
 * Sec-WebSocket-Key or -Accept, no Upgrade or Connection field (HTTP/2 forbids them): the stream
 * is the connection. Subprotocols and extensions are negotiated as over HTTP/1.1.
 */
import { isToken, parseList, type Headers } from './handshake.js';

/** What an HTTP/2 request's header block gives a handshake (pseudo-headers included). */
export interface ExtendedConnectRequest {
  headers: Headers;
}

export type ExtendedConnectCheck =
  | { ok: true; path: string; protocols: string[] }
  | { ok: false; status: number; message: string; headers?: Record<string, string> };

function single(value: Headers[string]): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Whether the request asks for a WebSocket at all: an extended CONNECT for the websocket protocol. */
export function isExtendedConnect(headers: Headers): boolean {
  return headers[':method'] === 'CONNECT' && headers[':protocol'] !== undefined;
}

/**
 * Validates an extended CONNECT for a WebSocket (RFC 8441 §4, §5; RFC 9113 §8.3). A wrong version
 * is a 400 with `sec-websocket-version: 13`: HTTP/1.1 says 426, but a 426 must carry an Upgrade
 * field (RFC 9110 §15.5.22), which HTTP/2 forbids (RFC 9113 §8.2.2).
 */
export function checkExtendedConnect(headers: Headers): ExtendedConnectCheck {
  if (headers[':method'] !== 'CONNECT') return { ok: false, status: 405, message: 'Method must be CONNECT', headers: { allow: 'CONNECT' } };
  const protocol = single(headers[':protocol']);
  if (protocol === undefined) return { ok: false, status: 400, message: 'Missing :protocol pseudo-header' };
  if (protocol.toLowerCase() !== 'websocket') return { ok: false, status: 501, message: `Unsupported :protocol ${JSON.stringify(protocol)}` };
  const path = single(headers[':path']);
  const scheme = single(headers[':scheme']);
  // §4: an extended CONNECT carries :scheme and :path, unlike a CONNECT to open a tunnel.
  if (path === undefined || path === '' || scheme === undefined) return { ok: false, status: 400, message: 'An extended CONNECT needs :scheme and :path' };
  if (headers[':authority'] === undefined) return { ok: false, status: 400, message: 'Missing :authority pseudo-header' };
  const version = single(headers['sec-websocket-version'])?.trim();
  if (version !== '13') return { ok: false, status: 400, message: 'Sec-WebSocket-Version must be 13', headers: { 'sec-websocket-version': '13' } };
  const protocols = parseList(headers['sec-websocket-protocol']);
  if (protocols.some((p) => !isToken(p)) || new Set(protocols).size !== protocols.length) {
    return { ok: false, status: 400, message: 'Invalid Sec-WebSocket-Protocol header' };
  }
  return { ok: true, path, protocols };
}

/** The client's request header block for `target` (path and query) on `authority`. */
export function extendedConnectHeaders(
  target: string,
  authority: string,
  handshakeHeaders: Record<string, string>,
): Record<string, string> {
  const headers: Record<string, string> = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':path': target,
    ':authority': authority,
    'sec-websocket-version': '13',
  };
  // The HTTP/1.1 handshake's fields minus those HTTP/2 has no use for (§5: no key, no Upgrade).
  for (const [name, value] of Object.entries(handshakeHeaders)) {
    const lower = name.toLowerCase();
    if (lower === 'sec-websocket-protocol' || lower === 'sec-websocket-extensions') headers[lower] = value;
  }
  return headers;
}
