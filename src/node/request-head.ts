/**
 * An HTTP/1.1 request head (RFC 9112 §2–§5) read straight off a socket, for the standalone server:
 * no node:http parser, IncomingMessage or ServerResponse per connection. Strict where a WebSocket
 * handshake needs nothing else: CRLF line ends, token names, no obsolete line folding, a bounded
 * size. What it gives the application as `req` has the fields of an IncomingMessage that a
 * handshake has (`method`, `url`, `httpVersion`, `headers`, `rawHeaders`, `socket`).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Socket } from 'node:net';

/**
 * The connection a head came on: a net.Socket, or a connection accepted without one, which makes
 * its net.Socket only when `socket` is read and can tell its peer's address without one.
 */
export type HeadSocket = Socket | { readonly socket: Socket; readonly remoteAddress: string | undefined };

/** node:http's default bound on a request head (`--max-http-header-size`). */
export const MAX_HEAD = 16 * 1024;

export class RequestHead {
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;

  constructor(
    readonly method: string,
    readonly url: string,
    readonly httpVersion: string,
    /** Lower-case names; repeated fields joined with ", " (set-cookie: an array), as node:http does. */
    readonly headers: IncomingHttpHeaders,
    /** Names and values as received, alternating. */
    readonly rawHeaders: string[],
    private readonly source: HeadSocket,
  ) {
    this.httpVersionMajor = httpVersion.charCodeAt(0) - 48;
    this.httpVersionMinor = httpVersion.charCodeAt(2) - 48;
  }

  get socket(): Socket {
    const source = this.source;
    // A connection accepted without a net.Socket makes one here; a socket is its own.
    return source instanceof Socket ? source : ((source as { socket?: Socket }).socket ?? (source as unknown as Socket));
  }

  /** The client's address, without making a net.Socket where there is none yet. */
  get remoteAddress(): string | undefined {
    return this.source.remoteAddress;
  }

  /** The old name of `socket`, still read by some code written for IncomingMessage. */
  get connection(): Socket {
    return this.socket;
  }
}

/**
 * The request a server's hooks and events get as `req`: on a standalone server (`port`), a
 * `RequestHead` read by the server itself (method, url, httpVersion, lower-cased `headers`,
 * `rawHeaders`, `socket` with its address); with `server:` or `handleUpgrade`, node:http's
 * `IncomingMessage`. Code that reads those fields runs unchanged on both.
 */
export type ServerRequest = IncomingMessage | RequestHead;

export interface HeadError {
  status: number;
  message: string;
}

const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([!-~]+) HTTP\/(\d\.\d)$/;
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible characters, spaces, tabs and obs-text; no CR, LF, NUL or other controls.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Parses the head in `bytes[0, end)` (without its final CRLF CRLF). */
export function parseRequestHead(bytes: Buffer, end: number, socket: HeadSocket): RequestHead | HeadError {
  const lines = bytes.toString('latin1', 0, end).split('\r\n');
  const match = REQUEST_LINE.exec(lines[0]);
  if (match === null) return { status: 400, message: 'Malformed request line' };
  const headers: Record<string, string | string[]> = {};
  const rawHeaders: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    // A line starting with whitespace is obsolete folding (§5.2): refused, as a bare LF or CR is.
    if (colon <= 0 || line.charCodeAt(0) <= 0x20) return { status: 400, message: 'Malformed header line' };
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (!FIELD_NAME.test(name) || !FIELD_VALUE.test(value)) return { status: 400, message: 'Malformed header line' };
    rawHeaders.push(name, value);
    const key = name.toLowerCase();
    const previous = headers[key];
    if (previous === undefined) headers[key] = key === 'set-cookie' ? [value] : value;
    else if (Array.isArray(previous)) previous.push(value);
    else headers[key] = `${previous}, ${value}`;
  }
  return new RequestHead(match[1], match[2], match[3], headers as IncomingHttpHeaders, rawHeaders, socket);
}

/** Whether node:http would call this an upgrade: `Connection: upgrade` and an `Upgrade` field. */
export function isUpgrade(head: RequestHead): boolean {
  const connection = head.headers.connection;
  return typeof connection === 'string' && head.headers.upgrade !== undefined && /(^|,)\s*upgrade\s*(,|$)/i.test(connection);
}
