/**
 * The client's opening handshake (RFC 6455 §4.1) over node:http / node:https: a GET with Upgrade,
 * then the 101 response checked against what was offered before the socket is handed over.
 * Redirects (when asked for) and non-101 answers the application wants to read are handled here;
 * which URL a redirect may go to is redirect.ts's decision.
 */
import { DEFAULT_CLIENT_HANDSHAKE_TIMEOUT } from '../protocol/constants.js';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { ClientHandshake, type ClientHandshakeOptions } from '../protocol/client-handshake.js';
import type { DeflateOptions } from '../protocol/extensions/permessage-deflate.js';
import { parseClientUrl, sameServer, type ClientTarget } from './client-url.js';
import { HandshakeError } from './errors.js';
import { proxyFor, tunnel } from './proxy.js';
import { readRefusalBody } from './refusal-body.js';
import { resolvePolicies, type PolicyOptions } from './policies.js';
import { headersForRedirect, isRedirect, redirectTarget } from './redirect.js';
import type { WebSocket } from './websocket.js';
import { openHttp2, type Http2Option } from './http2-client.js';

/**
 * Everything node:https.request takes (TLS options `ca cert key pfx passphrase ciphers servername
 * rejectUnauthorized …`, `auth`, `family`, `localAddress`, `lookup`, `createConnection`, `agent`)
 * is passed on to it; the rest is ours.
 */
type RequestPassThrough = Omit<
  https.RequestOptions,
  'headers' | 'signal' | 'method' | 'host' | 'hostname' | 'port' | 'path' | 'protocol' | 'socketPath' | 'defaultPort' | 'agent'
>;

export interface ClientOptions extends PolicyOptions, RequestPassThrough {
  /** Subprotocols to offer (also accepted as `new WebSocket(url, protocols)`). */
  protocols?: string | string[];
  /** Extra request headers. */
  headers?: Record<string, string | string[] | number>;
  origin?: string;
  /** Milliseconds for the whole handshake, redirects included; default 30 s. */
  handshakeTimeout?: number;
  signal?: AbortSignal;
  maxPayload?: number;
  closeTimeout?: number;
  /** Deliver messages as 'fragment' events instead of whole 'message' events. */
  streaming?: boolean;
  /** By default none: each handshake gets a connection of its own. */
  agent?: http.Agent | false;
  /** An http:// proxy to tunnel through (CONNECT); by default HTTPS_PROXY/HTTP_PROXY/NO_PROXY; false: none. */
  proxy?: string | URL | false;
  /** permessage-deflate (RFC 7692): offered by default; false to not offer it. */
  perMessageDeflate?: boolean | DeflateOptions;
  /** Follow 301/302/303/307/308 answers (default false: they fail the handshake). */
  followRedirects?: boolean;
  /** Redirects followed before failing; default 10. */
  maxRedirects?: number;
  /** Answer the server's pings with pongs (default true). False: the app answers them, or does not. */
  autoPong?: boolean;
  /** Only 13 (RFC 6455) is spoken; any other value throws a RangeError. */
  protocolVersion?: number;
  /**
   * Accepted for ws compatibility and ignored: text is always validated, because RFC 6455 §8.1
   * requires failing the connection on invalid UTF-8.
   */
  skipUTF8Validation?: boolean;
  /** Called instead of `request.end()`: write a body, set headers, then end it yourself. */
  finishRequest?: (request: http.ClientRequest, ws: WebSocket) => void;
  /**
   * `wss://` over HTTP/2 (RFC 8441): a stream of one session per origin, shared with the other
   * WebSockets to it. Falls back to HTTP/1.1 where the server does not offer it, unless
   * `{ fallback: false }`. Not through a proxy, an agent or `createConnection`: those use HTTP/1.1.
   */
  http2?: Http2Option;
}

/** Our options, never given to node:http (`signal` would abort the request behind our back). */
const OWN_OPTIONS = new Set([
  'protocols', 'headers', 'origin', 'handshakeTimeout', 'signal', 'maxPayload', 'closeTimeout', 'streaming',
  'agent', 'perMessageDeflate', 'followRedirects', 'maxRedirects', 'protocolVersion', 'skipUTF8Validation',
  'finishRequest', 'autoPong', 'http2', 'heartbeat', 'idleTimeout', 'rateLimit', 'backpressure', 'auth',
]);

const DEFAULT_MAX_REDIRECTS = 10;

/** Checks the URL, subprotocols and options (throwing as a browser does), then connects in the background. */
export function openClient(
  ws: WebSocket,
  address: string | URL,
  protocols: string | string[] | null | undefined,
  options: ClientOptions,
): void {
  // `new WebSocket(url, null)`: no subprotocol list, and not one named "null" either (as ws).
  if (protocols === null) throw new SyntaxError('Invalid subprotocol: null');
  if (options.protocolVersion !== undefined && options.protocolVersion !== 13) {
    throw new RangeError(`Unsupported protocol version: ${options.protocolVersion} (only 13, RFC 6455)`);
  }
  const target = parseClientUrl(address);
  const handshakeOptions: ClientHandshakeOptions = {
    protocols: protocols ?? options.protocols,
    perMessageDeflate: options.perMessageDeflate,
    maxPayload: options.maxPayload,
    streaming: options.streaming,
  };
  // Throws SyntaxError for an invalid or repeated subprotocol, before anything is sent.
  new ClientHandshake(handshakeOptions);
  ws.setUrl(target.url.href);
  const http1 = () => new ClientAttempt(ws, options, handshakeOptions, target).start();
  const direct = !options.agent && !options.createConnection && !options.finishRequest && !proxyFor(target.url, options.proxy);
  if (options.http2 && target.secure && !target.socketPath && direct) return openHttp2(ws, options, handshakeOptions, target, http1);
  http1();
}

/** One opening handshake, through any redirects, until it succeeds or fails once. */
class ClientAttempt {
  private settled = false;
  private request: http.ClientRequest | null = null;
  private redirects = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort = () => this.fail(new HandshakeError('Opening handshake aborted'));
  /** The first request's credentials, which go only to that server. */
  private readonly auth: string | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly options: ClientOptions,
    private readonly handshakeOptions: ClientHandshakeOptions,
    private target: ClientTarget,
  ) {
    this.auth = credentials(target.url) ?? options.auth ?? undefined;
    const timeout = options.handshakeTimeout ?? DEFAULT_CLIENT_HANDSHAKE_TIMEOUT;
    this.timer = setTimeout(() => this.fail(new HandshakeError(`Opening handshake timed out after ${timeout} ms`)), timeout);
  }

  start(): void {
    const { signal } = this.options;
    this.ws.abortHandshake = (error) => this.fail(error);
    if (signal?.aborted) return void process.nextTick(this.onAbort);
    signal?.addEventListener('abort', this.onAbort, { once: true });
    this.send(this.target, this.auth, this.options.headers ?? {});
  }

  private send(target: ClientTarget, auth: string | undefined, userHeaders: Record<string, string | string[] | number>): void {
    const handshake = new ClientHandshake(this.handshakeOptions);
    const headers: Record<string, string | string[] | number> = { ...userHeaders, ...handshake.requestHeaders() };
    if (this.options.origin) headers.Origin = this.options.origin;
    const requestOptions: https.RequestOptions = {
      ...passThrough(this.options),
      method: 'GET',
      host: target.host,
      // As the URL spells it (a string), as ws passes it to createConnection; the scheme's default otherwise.
      port: target.url.port || target.port,
      path: target.path,
      socketPath: target.socketPath,
      headers,
      auth,
    };
    // node:http uses createConnection only when no agent is given.
    if (this.options.agent !== undefined || !this.options.createConnection) requestOptions.agent = this.options.agent ?? false;
    const proxy = this.options.agent || this.options.createConnection || target.socketPath ? null : proxyFor(target.url, this.options.proxy);
    if (proxy) Object.assign(requestOptions, { agent: undefined, createConnection: tunnel(proxy, { secure: target.secure, timeout: this.options.handshakeTimeout, signal: this.options.signal }) });
    const request = (target.secure ? https : http).request(requestOptions);
    this.request = request;
    // Listen at once: an abort (even by a signal already aborted) destroys the request, which
    // emits 'error' then, and an unheard 'error' would crash the process.
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (request !== this.request) return;
      this.fail(error instanceof HandshakeError ? error : new HandshakeError(error.message, undefined, undefined, { code: error.code, cause: error }));
    });
    request.on('response', (res) => this.onResponse(request, res, target, auth, userHeaders));
    request.on('upgrade', (res: http.IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(request, handshake, res, socket, head));
    if (this.redirects > 0 && this.ws.listenerCount('redirect') > 0) {
      // Before the request is sent, so a listener may set headers on it (or close the WebSocket).
      this.ws.emit('redirect', this.ws.url, request);
      if (this.settled) return;
    }
    if (this.options.finishRequest) this.options.finishRequest(request, this.ws);
    else request.end();
  }

  private onResponse(
    request: http.ClientRequest,
    res: http.IncomingMessage,
    from: ClientTarget,
    auth: string | undefined,
    userHeaders: Record<string, string | string[] | number>,
  ): void {
    if (this.settled) return void res.resume();
    const location = res.headers.location;
    if (this.options.followRedirects && isRedirect(res.statusCode, location)) {
      res.resume();
      this.request = null;
      request.destroy();
      if (++this.redirects > (this.options.maxRedirects ?? DEFAULT_MAX_REDIRECTS)) {
        return this.fail(new HandshakeError('Maximum redirects exceeded', res.statusCode, res.headers));
      }
      let to: ClientTarget;
      try {
        to = redirectTarget(from, location!);
      } catch (error) {
        return this.fail(error as Error);
      }
      this.target = to;
      this.ws.setUrl(to.url.href);
      // A 'redirect' listener is handed the new request and decides what it carries (as in ws).
      const keep = sameServer(from, to) || this.ws.listenerCount('redirect') > 0;
      const nextAuth = credentials(to.url) ?? (keep ? auth : undefined);
      return this.send(to, nextAuth, keep ? userHeaders : headersForRedirect(userHeaders, from, to));
    }
    if (this.ws.listenerCount('unexpected-response') > 0) return this.handOver(request, res);
    void readRefusalBody(res).then((body) => this.fail(new HandshakeError(`Unexpected server response: ${res.statusCode}`, res.statusCode, res.headers, { body })));
  }

  /**
   * 'unexpected-response' is listened to: the application reads the answer (its body included)
   * instead of getting an 'error'. The WebSocket closes (1006) once the response is done with —
   * read to the end, or destroyed by `close()`/`terminate()` or by the application.
   */
  private handOver(request: http.ClientRequest, res: http.IncomingMessage): void {
    this.settle();
    // close()/terminate() meanwhile: 'error' (closed before it was established, as any close
    // while connecting), then 'close'.
    let aborted: Error | null = null;
    this.ws.abortHandshake = (error) => {
      aborted = error;
      this.ws.setReadyState(this.ws.CLOSING);
      request.destroy();
      res.destroy();
    };
    // 'close' comes after 'end' when the body is read, and also when it never will be.
    res.once('close', () => this.ws.failHandshake(aborted));
    request.on('error', () => {});
    this.ws.emit('unexpected-response', request, res);
  }

  private onUpgrade(request: http.ClientRequest, handshake: ClientHandshake, res: http.IncomingMessage, socket: Socket, head: Buffer): void {
    if (this.settled || request !== this.request) return void socket.destroy();
    this.ws.emit('upgrade', res);
    // A listener may have closed the WebSocket.
    if (this.settled) return void socket.destroy();
    const agreed = handshake.checkResponse(res.statusCode, res.headers);
    if (!agreed.ok) {
      socket.destroy();
      return this.fail(new HandshakeError(agreed.message, res.statusCode, res.headers));
    }
    this.settle();
    const ws = this.ws;
    ws.setAgreed(agreed.protocol, agreed.extensions);
    const connection = this.options.autoPong === false ? { ...agreed.connection, autoPong: false } : agreed.connection;
    ws.attach(socket, 'client', connection, { closeTimeout: this.options.closeTimeout, policies: resolvePolicies(this.options, null, 'client') });
    ws.emit('open');
    ws.startReading(head);
  }

  /** The handshake is over either way: no timer, no abort, no more redirects. */
  private settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.ws.abortHandshake = null;
  }

  /**
   * The handshake failed: CLOSING at once (as ws: the abort is under way), then 'error' and
   * 'close' 1006 on a later tick, so that `close()` called while connecting returns first.
   */
  private fail(error: Error): void {
    if (this.settled) return;
    this.settle();
    const request = this.request;
    this.request = null;
    request?.destroy();
    this.ws.setReadyState(this.ws.CLOSING);
    process.nextTick(failLater, this.ws, error);
  }
}

function failLater(ws: WebSocket, error: Error): void {
  ws.failHandshake(error);
}

function passThrough(options: ClientOptions): https.RequestOptions {
  const forwarded: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(options)) {
    if (!OWN_OPTIONS.has(name) && value !== undefined) forwarded[name] = value;
  }
  return forwarded as https.RequestOptions;
}

/** User info in the URL becomes Basic auth (node:http encodes `auth`); it wins over the `auth` option. */
function credentials(url: URL): string | undefined {
  if (!url.username && !url.password) return undefined;
  return `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
}
