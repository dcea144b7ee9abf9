/**
 * The opening handshake (RFC 6455 §4) as pure functions over header maps: no sockets here.
 * Header maps use lower-case names, as node:http gives them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { GUID } from './constants.js';

export type HeaderValue = string | string[] | undefined;
export type Headers = Record<string, HeaderValue>;

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (§4.2.2 step 5.4). */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** A fresh Sec-WebSocket-Key: 16 random bytes, base64 (§4.1). */
export function generateKey(): string {
  return randomBytes(16).toString('base64');
}

function single(value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Splits a comma-separated header into trimmed, non-empty items (RFC 7230 §7 list syntax). */
export function parseList(value: HeaderValue): string[] {
  const joined = single(value);
  if (!joined) return [];
  const items: string[] = [];
  for (const part of joined.split(',')) {
    const item = part.trim();
    if (item) items.push(item);
  }
  return items;
}

function hasToken(value: HeaderValue, token: string): boolean {
  // Nearly every client sends exactly the token: no list to split.
  if (typeof value === 'string' && value.length === token.length && value.toLowerCase() === token) return true;
  return parseList(value).some((item) => item.toLowerCase() === token);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const KEY = /^[A-Za-z0-9+/]{22}==$/;

export interface UpgradeRequest {
  method?: string;
  /** The request-target as received; origin-form when absent. */
  url?: string;
  httpVersion: string;
  headers: Headers;
  /**
   * Names and values as received, alternating (node:http's `rawHeaders`). Needed to see a repeated
   * Host or Content-Length: a header map keeps only one of them.
   */
  rawHeaders?: readonly string[];
}

export type RequestCheck =
  | { ok: true; key: string; protocols: string[] }
  | { ok: false; status: number; message: string; headers?: Record<string, string> };

/** A Sec-WebSocket-Key: 22 base64 characters and "==", which always decode to exactly 16 bytes. */
export function isKey(key: string): boolean {
  return KEY.test(key);
}

function fail(status: number, message: string, headers?: Record<string, string>): RequestCheck {
  return { ok: false, status, message, headers };
}

// uri-host [ ":" port ] (RFC 3986 §3.2.2, §3.2.3); an empty value is allowed (RFC 9112 §3.2).
const HOST = /^(?:\[[0-9A-Za-z:.\-_~!$&'()*+,;=]+\]|[0-9A-Za-z\-._~%!$&'()*+,;=]*)(?::[0-9]*)?$/;

/** Every value of a header, one per field line when the raw lines are known. */
function fieldValues(req: UpgradeRequest, name: string): string[] {
  if (req.rawHeaders) {
    const values: string[] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i].toLowerCase() === name) values.push(req.rawHeaders[i + 1]);
    }
    return values;
  }
  const value = req.headers[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/**
 * The path of a request-target (RFC 9112 §3.2): origin-form `/path?query`, or absolute-form
 * `ws://host/path?query` as sent to proxies, which a server must accept too (§3.2.2). The query is
 * dropped; null when the target is neither form.
 */
export function targetPath(target: string | undefined): string | null {
  if (target === undefined) return '/';
  if (target.includes('#')) return null;
  let rest = target;
  if (!target.startsWith('/')) {
    const scheme = /^(?:wss?|https?):\/\/[^/?]*/i.exec(target);
    if (!scheme) return null;
    rest = target.slice(scheme[0].length);
    if (rest === '' || rest.startsWith('?')) rest = '/' + rest;
    if (!rest.startsWith('/')) return null;
  }
  const q = rest.indexOf('?');
  return q === -1 ? rest : rest.slice(0, q);
}

/** A header name is a token (RFC 9110 §5.1). */
export function isToken(name: string): boolean {
  return TOKEN.test(name);
}

// field-value (RFC 9110 §5.5): visible ASCII, space, tab and obs-text. No CR, LF or NUL, which
// would end the line and let the rest be read as headers of its own, nor other controls.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function isFieldValue(value: string): boolean {
  return FIELD_VALUE.test(value);
}

// Headers that frame the response: ours to write, never an app's (a second Content-Length would
// make the response ambiguous to the client and to every proxy on the way).
const RESERVED = new Set(['content-length', 'transfer-encoding', 'connection']);

/** Why these headers cannot go into a response as they are, or null when they can. */
export function invalidHeaders(headers: Record<string, string> | undefined): string | null {
  if (!headers) return null;
  for (const [name, value] of Object.entries(headers)) {
    if (!isToken(name)) return `Invalid header name ${JSON.stringify(name)}`;
    if (typeof value !== 'string' || !isFieldValue(value)) return `Invalid value for header ${name}`;
    if (RESERVED.has(name.toLowerCase())) return `Header ${name} is set by the server`;
  }
  return null;
}

/** Why a refusal with this status and these headers cannot be sent as it is, or null. */
export function unsafeRefusal(status: number, headers: Record<string, string> | undefined): string | null {
  if (!Number.isInteger(status) || status < 400 || status > 599) return `Invalid refusal status ${status}`;
  return invalidHeaders(headers);
}

function atLeastHttp11(version: string): boolean {
  if (version === '1.1') return true;
  const [major, minor] = version.split('.').map(Number);
  return major > 1 || (major === 1 && minor >= 1);
}

/** Validates a client's opening handshake (§4.2.1). */
export function checkRequest(req: UpgradeRequest): RequestCheck {
  if (req.method !== 'GET') return fail(405, 'Method must be GET', { Allow: 'GET' });
  if (!atLeastHttp11(req.httpVersion)) return fail(400, 'HTTP/1.1 or later required');
  const hosts = fieldValues(req, 'host');
  // RFC 9112 §3.2: exactly one Host, well-formed, even with an absolute-form target (§3.2.2).
  if (hosts.length !== 1 || !HOST.test(hosts[0].trim())) return fail(400, 'Exactly one valid Host header required');
  // A body would be read as WebSocket frames once the connection is upgraded: refuse any.
  if (fieldValues(req, 'transfer-encoding').length) return fail(400, 'An upgrade request must not have a body');
  if (fieldValues(req, 'content-length').some((value) => value.trim() !== '0')) {
    return fail(400, 'An upgrade request must not have a body');
  }
  if (!hasToken(req.headers.upgrade, 'websocket')) return fail(400, 'Upgrade header must be "websocket"');
  if (!hasToken(req.headers.connection, 'upgrade')) return fail(400, 'Connection header must contain "Upgrade"');
  const version = single(req.headers['sec-websocket-version'])?.trim();
  if (version !== '13') {
    return fail(version === undefined ? 400 : 426, 'Sec-WebSocket-Version must be 13', {
      'Sec-WebSocket-Version': '13',
    });
  }
  const key = single(req.headers['sec-websocket-key'])?.trim();
  if (!key || !isKey(key)) {
    return fail(400, 'Sec-WebSocket-Key must be base64 of 16 bytes');
  }
  const protocols = parseList(req.headers['sec-websocket-protocol']);
  if (protocols.some((p) => !TOKEN.test(p)) || new Set(protocols).size !== protocols.length) {
    return fail(400, 'Invalid Sec-WebSocket-Protocol header');
  }
  return { ok: true, key, protocols };
}

/** The 101 response head; `extra` lines are already "Name: value". */
export function buildAcceptResponse(key: string, protocol?: string, extra: string[] = []): string {
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptKey(key)}`,
  ];
  if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  lines.push(...extra);
  return lines.join('\r\n') + '\r\n\r\n';
}

/**
 * A complete HTTP error response that ends a refused handshake. Status and headers may come from
 * an application hook. A status outside 400–599 or a header that is not a valid field line
 * (a CR, LF or NUL in it, a name that is not a token) turns the whole answer into a plain 500:
 * dropping only the bad header would send a response nobody wrote, and copying it would let the
 * value inject header lines. The refusal still refuses; the 500 says the server got it wrong.
 */
export function buildErrorResponse(status: number, message: string, headers: Record<string, string> = {}): string {
  if (unsafeRefusal(status, headers)) {
    status = 500;
    message = 'Internal Server Error';
    headers = {};
  }
  const body = message;
  const lines = [`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}`, 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  lines.push('Content-Type: text/plain; charset=utf-8', `Content-Length: ${Buffer.byteLength(body)}`);
  return lines.join('\r\n') + '\r\n\r\n' + body;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export type ResponseCheck = { ok: true; protocol: string; extensions: string } | { ok: false; message: string };

/** Validates the server's 101 response against what the client sent (§4.1, client steps 1–6). */
export function checkResponse(
  statusCode: number | undefined,
  headers: Headers,
  key: string,
  offeredProtocols: readonly string[],
  offeredExtensions: readonly string[] = [],
): ResponseCheck {
  if (statusCode !== 101) return { ok: false, message: `Unexpected server response: ${statusCode}` };
  if (!hasToken(headers.upgrade, 'websocket')) return { ok: false, message: 'Invalid Upgrade header' };
  if (!hasToken(headers.connection, 'upgrade')) return { ok: false, message: 'Invalid Connection header' };
  if (single(headers['sec-websocket-accept'])?.trim() !== acceptKey(key)) {
    return { ok: false, message: 'Invalid Sec-WebSocket-Accept header' };
  }
  return checkNegotiated(headers, offeredProtocols, offeredExtensions);
}

/** The subprotocol and extensions a server answered, checked against the offer (§4.1 steps 5–6). */
export function checkNegotiated(headers: Headers, offeredProtocols: readonly string[], offeredExtensions: readonly string[]): ResponseCheck {
  const protocol = single(headers['sec-websocket-protocol'])?.trim() ?? '';
  if (protocol && !offeredProtocols.includes(protocol)) {
    return { ok: false, message: `Server sent a subprotocol that was not offered: ${protocol}` };
  }
  if (!protocol && headers['sec-websocket-protocol'] !== undefined) {
    return { ok: false, message: 'Empty Sec-WebSocket-Protocol header' };
  }
  const extensions = single(headers['sec-websocket-extensions'])?.trim() ?? '';
  for (const ext of parseList(extensions)) {
    const name = ext.split(';')[0].trim().toLowerCase();
    if (!offeredExtensions.includes(name)) {
      return { ok: false, message: `Server sent an extension that was not offered: ${name}` };
    }
  }
  return { ok: true, protocol, extensions };
}
