/**
 * Where a client connects: the URL given to `new WebSocket(url)` (or a redirect's Location),
 * checked and normalized (RFC 6455 §3), and turned into what node:http needs to reach it.
 */

export interface ClientTarget {
  /** The normalized URL: `http:` is reported as `ws:`, `https:` as `wss:`, as a browser does. */
  url: URL;
  secure: boolean;
  /** Set for `ws+unix:` URLs: the Unix domain socket to connect to. */
  socketPath: string | undefined;
  /** The host name, without the brackets of an IPv6 literal (node:http wants it bare). */
  host: string;
  port: number;
  /** The request target: origin-form path and query. */
  path: string;
}

const SCHEMES = new Set(['ws:', 'wss:', 'http:', 'https:', 'ws+unix:']);

/** Throws a SyntaxError when the address cannot be a WebSocket URL, as browsers do. */
export function parseClientUrl(address: string | URL): ClientTarget {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new SyntaxError(`Invalid URL: ${String(address)}`);
  }
  if (!SCHEMES.has(url.protocol)) {
    throw new SyntaxError(`The URL's scheme must be ws, wss, http, https or ws+unix, not ${url.protocol.slice(0, -1)}`);
  }
  // A fragment means nothing to a WebSocket server and must not be sent (§3).
  if (url.hash) throw new SyntaxError('The URL must not contain a fragment');
  // http and ws are both "special" schemes, so the URL setter may swap one for the other.
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol === 'ws+unix:') return unixTarget(url);
  const secure = url.protocol === 'wss:';
  return {
    url,
    secure,
    socketPath: undefined,
    host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port ? Number(url.port) : secure ? 443 : 80,
    path: (url.pathname || '/') + url.search,
  };
}

/**
 * `ws+unix:/path/to.sock:/request/path?query`: the socket path, then after the first ':' the
 * request path ('/' when there is none). A socket path with ':' in it cannot be written this way.
 */
function unixTarget(url: URL): ClientTarget {
  const pathname = url.pathname;
  const colon = pathname.indexOf(':');
  // Only the socket path is a file name; the request path stays percent-encoded for the wire.
  const socketPath = decodeURIComponent(colon === -1 ? pathname : pathname.slice(0, colon));
  if (socketPath === '') throw new SyntaxError('A ws+unix: URL needs a socket path');
  let requestPath = colon === -1 ? '/' : pathname.slice(colon + 1) || '/';
  if (!requestPath.startsWith('/')) requestPath = '/' + requestPath;
  return { url, secure: false, socketPath, host: 'localhost', port: 80, path: requestPath + url.search };
}

/** Whether two targets are the same server for credentials: same host and port, or same socket. */
export function sameServer(a: ClientTarget, b: ClientTarget): boolean {
  if (a.socketPath !== undefined || b.socketPath !== undefined) return a.socketPath === b.socketPath;
  return a.host.toLowerCase() === b.host.toLowerCase() && a.port === b.port;
}
