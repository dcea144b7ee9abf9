/**
 * Client connections through an HTTP proxy: which proxy a URL goes through (the `proxy` option,
 * else HTTPS_PROXY / HTTP_PROXY minus NO_PROXY), and a CONNECT tunnel to it shaped as
 * http.request's `createConnection`. Both ws: and wss: tunnel with CONNECT: a forwarding proxy
 * would not pass the upgraded connection on, and through a tunnel TLS stays end to end.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { HandshakeError } from './errors.js';

type Env = Record<string, string | undefined>;

/** The most a proxy's answer to CONNECT may hold before its blank line: a head, not a stream. */
const MAX_PROXY_HEAD = 16 * 1024;

/**
 * The proxy for `target`, or null to connect directly. An explicit `option` wins (false: never a
 * proxy, whatever the environment says); otherwise https_proxy/HTTPS_PROXY for wss:, and
 * http_proxy/HTTP_PROXY for ws:, unless NO_PROXY names the host.
 */
export function proxyFor(target: URL, option?: string | URL | false, env: Env = process.env): URL | null {
  if (option === false) return null;
  if (option !== undefined && option !== '') return proxyUrl(String(option));
  const secure = target.protocol === 'wss:' || target.protocol === 'https:';
  // Under CGI, HTTP_PROXY comes from the request's own `Proxy:` header (httpoxy): only the
  // lower-case name, which no request header can produce, is trusted there.
  const cgi = env.REQUEST_METHOD !== undefined;
  const value = secure ? env.https_proxy || env.HTTPS_PROXY : env.http_proxy || (cgi ? undefined : env.HTTP_PROXY);
  if (!value) return null;
  const port = target.port || (secure ? '443' : '80');
  if (bypassesProxy(target.hostname, port, env.no_proxy ?? env.NO_PROXY ?? '')) return null;
  return proxyUrl(value);
}

function proxyUrl(value: string): URL {
  // "host:3128" is how proxies are often written: http:// is meant.
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  if (url.protocol !== 'http:') throw new SyntaxError(`Only http:// proxies are supported, not ${url.protocol}//`);
  return url;
}

/**
 * Whether NO_PROXY (comma- or space-separated) exempts `hostname` on `port`. Entries: `*` (all),
 * a host or domain (`example.com`, `.example.com` and `*.example.com` all match example.com and
 * its subdomains, as curl does), an IP literal (exact; `[::1]` or `::1`), any of them with
 * `:port` to exempt that port only. Case and a trailing dot do not matter.
 */
export function bypassesProxy(hostname: string, port: string, noProxy: string): boolean {
  const host = normalizeHost(hostname);
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    const { name, entryPort } = splitPort(entry);
    if (entryPort !== null && entryPort !== port) continue;
    const domain = normalizeHost(name.replace(/^\*?\./, ''));
    if (!domain) continue;
    if (host === domain) return true;
    // A suffix is a domain's: "0.1" must not exempt 10.0.0.1.
    if (net.isIP(host) === 0 && host.endsWith(`.${domain}`)) return true;
  }
  return false;
}

function splitPort(entry: string): { name: string; entryPort: string | null } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return { name: bracketed[1], entryPort: bracketed[2] ?? null };
  // A bare IPv6 literal has colons of its own and no port.
  if (net.isIPv6(entry)) return { name: entry, entryPort: null };
  const colon = /^(.*):(\d+)$/.exec(entry);
  return colon ? { name: colon[1], entryPort: colon[2] } : { name: entry, entryPort: null };
}

/** Lower case, no brackets, no trailing dot, IPv6 in its canonical form (so ::0:1 is ::1). */
function normalizeHost(hostname: string): string {
  let host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (net.isIPv6(host)) host = new URL(`http://[${host}]`).hostname.slice(1, -1);
  return host;
}

export interface TunnelOptions {
  /** Whether to run TLS over the tunnel (wss:), with the TLS options of the request. */
  secure: boolean;
  /** Milliseconds for the proxy to answer; the handshake's own timeout, so nothing outlives it. */
  timeout?: number;
  signal?: AbortSignal;
}

/** What http.request passes to `createConnection`: the target and the request's TLS options. */
type ConnectionRequest = tls.ConnectionOptions & { host?: string | null; port?: number | string | null };
type Created = (error: Error | null, socket?: Duplex) => void;

/**
 * http.request's `createConnection` through `proxy`: net.connect to it, `CONNECT host:port`, and
 * once it answers 2xx the socket (wrapped in TLS to the target when `secure`) goes to `created`.
 * Any other answer is a HandshakeError with the proxy's status and headers.
 */
export function tunnel(proxy: URL, options: TunnelOptions): (request: ConnectionRequest, created: Created) => undefined {
  return (request, created) => {
    const host = String(request.host ?? 'localhost');
    const authority = `${net.isIPv6(host) ? `[${host}]` : host}:${request.port}`;
    const socket = net.connect({ host: proxy.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(proxy.port || 80) });
    let done = false;
    const finish = (error: Error | null, result?: Duplex) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.removeListener('data', onData);
      socket.removeListener('error', finish);
      socket.removeListener('close', onClose);
      if (error) socket.destroy();
      created(error, result);
    };
    const timer = setTimeout(() => finish(new HandshakeError(`Proxy ${proxy.host} did not answer CONNECT in time`)), options.timeout ?? 30_000);
    const onAbort = () => finish(new HandshakeError('Opening handshake aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const onClose = () => finish(new HandshakeError(`Proxy ${proxy.host} closed the connection before answering CONNECT`));

    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_PROXY_HEAD) finish(new HandshakeError(`Proxy ${proxy.host} sent an answer head over ${MAX_PROXY_HEAD} bytes`));
        return;
      }
      const answer = parseHead(head.subarray(0, end).toString('latin1'));
      if (!answer) return finish(new HandshakeError(`Proxy ${proxy.host} sent an unreadable answer to CONNECT`));
      if (answer.status < 200 || answer.status > 299) {
        return finish(new HandshakeError(`Proxy refused the tunnel: ${answer.status} ${answer.reason}`.trim(), answer.status, answer.headers));
      }
      // Paused, so nothing is read while no one listens; TLS reads the handle itself.
      socket.pause();
      if (options.secure) return finish(null, secureOver(socket, host, request));
      // Whatever came after the head is the target's: give it back to the stream. The request
      // takes the socket on the next tick, before the resumed stream flows.
      const rest = head.subarray(end + 4);
      if (rest.length) socket.unshift(rest);
      finish(null, socket);
      socket.resume();
    };
    socket.on('data', onData);
    socket.on('error', finish);
    socket.on('close', onClose);

    const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
    if (proxy.username || proxy.password) {
      const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
      lines.push(`Proxy-Authorization: Basic ${Buffer.from(credentials).toString('base64')}`);
    }
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    return undefined;
  };
}

function secureOver(socket: net.Socket, host: string, request: ConnectionRequest): tls.TLSSocket {
  const { ca, cert, key, rejectUnauthorized, servername } = request;
  // `host` is what the certificate is checked against (else it would be the proxy's name); SNI
  // carries names only (RFC 6066), never an IP literal.
  return tls.connect({ socket, host, servername: servername || (net.isIP(host) ? undefined : host), ca, cert, key, rejectUnauthorized });
}

interface ProxyAnswer {
  status: number;
  reason: string;
  headers: Record<string, string>;
}

function parseHead(text: string): ProxyAnswer | null {
  const [statusLine, ...lines] = text.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!match) return null;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(match[1]), reason: match[2] ?? '', headers };
}
