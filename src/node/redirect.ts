/**
 * Following a redirect during the opening handshake (off unless `followRedirects`). RFC 6455 §4.1
 * lets a client follow 3xx answers; RFC 9110 §15.4 says how: resolve Location against the URL
 * asked for (§10.2.2) and resend the request, removing what must not reach another server.
 */
import { parseClientUrl, sameServer, type ClientTarget } from './client-url.js';

/** The 3xx codes that name another URI for the same GET (RFC 9110 §15.4.2–§15.4.9; 300 and 304 do not). */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export function isRedirect(status: number | undefined, location: string | undefined): boolean {
  return status !== undefined && REDIRECTS.has(status) && location !== undefined;
}

/**
 * The target a Location header sends us to. Throws SyntaxError when it is not a WebSocket URL, and
 * an Error when following it would weaken the connection:
 * - wss → ws: the request (credentials, cookies) and everything after it would go in clear text
 *   where the user asked for TLS (RFC 9110 §17.1, §15.4: a user agent ought not to follow a
 *   redirect that the user would not have agreed to);
 * - a network URL → ws+unix: a remote server must not make us connect to a local socket.
 */
export function redirectTarget(from: ClientTarget, location: string): ClientTarget {
  let resolved: URL;
  try {
    // A path-only Location from a ws+unix server stays on that socket (URL resolution would
    // take the socket path for part of the path).
    resolved = from.socketPath !== undefined && location.startsWith('/') && !location.startsWith('//')
      ? new URL(`ws+unix:${from.socketPath}:${location}`)
      : new URL(location, from.url);
  } catch {
    throw new SyntaxError(`Invalid URL: ${location}`);
  }
  // A fragment is never sent (RFC 6455 §3), so one in Location (§10.2.2 would keep it) is dropped.
  resolved.hash = '';
  const target = parseClientUrl(resolved);
  if (from.secure && !target.secure) throw new Error(`Redirect from wss: to ${target.url.protocol} refused`);
  if (from.socketPath === undefined && target.socketPath !== undefined) throw new Error('Redirect to a Unix socket refused');
  return target;
}

/**
 * Request headers the application set that carry credentials or name the first server: RFC 9110
 * §15.4 asks a user agent to consider removing Authorization and Cookie when the redirect goes to
 * another origin, and a Host for the first server is wrong for another. When the application
 * listens for 'redirect', nothing is dropped (as in ws): its listener gets the new request and
 * removes (`request.removeHeader`) what the target must not see.
 */
const CROSS_SERVER_DROPPED = new Set(['authorization', 'cookie', 'host']);

export function headersForRedirect(
  headers: Record<string, string | string[] | number>,
  from: ClientTarget,
  to: ClientTarget,
): Record<string, string | string[] | number> {
  if (sameServer(from, to)) return headers;
  const kept: Record<string, string | string[] | number> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!CROSS_SERVER_DROPPED.has(name.toLowerCase())) kept[name] = value;
  }
  return kept;
}
