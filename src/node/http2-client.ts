/**
 * WebSockets over HTTP/2 on the client (RFC 8441): each `wss://` connection with `http2` is an
 * extended CONNECT stream of one HTTP/2 session per origin (and TLS options), shared by every
 * WebSocket to that origin and closed when its last one closes. A server that does not negotiate
 * h2 or does not announce SETTINGS_ENABLE_CONNECT_PROTOCOL gets HTTP/1.1 instead, unless fallback
 * is refused.
 */
import * as http2 from 'node:http2';
import type { ClientHandshake, ClientHandshakeOptions } from '../protocol/client-handshake.js';
import { ClientHandshake as Handshake } from '../protocol/client-handshake.js';
import { DEFAULT_CLIENT_HANDSHAKE_TIMEOUT } from '../protocol/constants.js';
import { extendedConnectHeaders } from '../protocol/extended-connect.js';
import type { ClientOptions } from './client.js';
import type { ClientTarget } from './client-url.js';
import { HandshakeError } from './errors.js';
import { asWebSocketStream, markOverHttp2, STREAM_WINDOW, widenConnectionWindow } from './http2-stream.js';
import { resolvePolicies } from './policies.js';
import type { WebSocket } from './websocket.js';

/** `true`: HTTP/2 where the server offers it, else HTTP/1.1; `{ fallback: false }`: HTTP/2 or fail. */
export type Http2Option = boolean | { fallback?: boolean };

interface PoolEntry {
  key: string;
  session: http2.ClientHttp2Session;
  /** Settles once the server's first SETTINGS came: whether it takes extended CONNECT. */
  ready: Promise<boolean>;
  /** WebSockets (and handshakes) on the session; at zero the session is closed. */
  users: number;
}

const pool = new Map<string, PoolEntry>();

/** The TLS options that decide whom a session trusts: sessions are shared only between equals. */
const TLS_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername', 'checkServerIdentity', 'ciphers', 'minVersion', 'maxVersion'] as const;
const identities = new WeakMap<object, number>();
let nextIdentity = 1;

function poolKey(target: ClientTarget, options: ClientOptions): string {
  let key = `${target.host}:${target.port}`;
  for (const name of TLS_KEYS) {
    const value = (options as Record<string, unknown>)[name];
    if (value === undefined) continue;
    // Objects (certificates, functions) by identity: equal content in another Buffer is a new session.
    if (typeof value === 'object' || typeof value === 'function') {
      let id = identities.get(value as object);
      if (id === undefined) identities.set(value as object, (id = nextIdentity++));
      key += `|${name}#${id}`;
    } else key += `|${name}=${String(value)}`;
  }
  return key;
}

/** The number of HTTP/2 sessions the client holds open (for tests and diagnostics). */
export function http2SessionCount(): number {
  return pool.size;
}

function openSession(key: string, target: ClientTarget, options: ClientOptions): PoolEntry {
  const tlsOptions: http2.SecureClientSessionOptions = {};
  for (const name of TLS_KEYS) {
    const value = (options as Record<string, unknown>)[name];
    if (value !== undefined) (tlsOptions as Record<string, unknown>)[name] = value;
  }
  const authority = `https://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  const session = http2.connect(authority, { ...tlsOptions, settings: { initialWindowSize: STREAM_WINDOW } });
  widenConnectionWindow(session);
  const entry: PoolEntry = { key, session, users: 0, ready: null! };
  entry.ready = new Promise<boolean>((resolve) => {
    session.once('remoteSettings', (settings) => resolve(settings.enableConnectProtocol === true));
    // No h2 by ALPN, a refused connection, a TLS failure: no HTTP/2 here (the HTTP/1.1 attempt, if
    // any, reports its own error).
    session.once('close', () => resolve(false));
  });
  session.on('error', () => {});
  session.once('close', () => {
    if (pool.get(key) === entry) pool.delete(key);
  });
  session.once('goaway', () => {
    if (pool.get(key) === entry) pool.delete(key);
  });
  pool.set(key, entry);
  return entry;
}

function release(entry: PoolEntry): void {
  if (--entry.users > 0) return;
  if (pool.get(entry.key) === entry) pool.delete(entry.key);
  // GOAWAY, then the connection closes (nothing is left on it).
  if (!entry.session.closed && !entry.session.destroyed) entry.session.close();
}

/** Opens `ws` over HTTP/2, or calls `http1` when the server does not take WebSockets over HTTP/2. */
export function openHttp2(
  ws: WebSocket,
  options: ClientOptions,
  handshakeOptions: ClientHandshakeOptions,
  target: ClientTarget,
  http1: () => void,
): void {
  new Http2Attempt(ws, options, handshakeOptions, target, http1).start();
}

class Http2Attempt {
  private settled = false;
  private entry: PoolEntry | null = null;
  private stream: http2.ClientHttp2Stream | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort = () => this.fail(new HandshakeError('Opening handshake aborted'));
  private readonly onStreamError = (error: NodeJS.ErrnoException) => this.fail(new HandshakeError(error.message, undefined, undefined, { code: error.code, cause: error }));
  private readonly onStreamClose = () => this.fail(new HandshakeError(`The stream closed before the handshake completed (RST_STREAM ${this.stream?.rstCode})`));

  constructor(
    private readonly ws: WebSocket,
    private readonly options: ClientOptions,
    private readonly handshakeOptions: ClientHandshakeOptions,
    private readonly target: ClientTarget,
    private readonly http1: () => void,
  ) {
    const timeout = options.handshakeTimeout ?? DEFAULT_CLIENT_HANDSHAKE_TIMEOUT;
    this.timer = setTimeout(() => this.fail(new HandshakeError(`Opening handshake timed out after ${timeout} ms`)), timeout);
  }

  start(): void {
    const { signal } = this.options;
    this.ws.abortHandshake = (error) => this.fail(error);
    if (signal?.aborted) return void process.nextTick(this.onAbort);
    signal?.addEventListener('abort', this.onAbort, { once: true });
    const key = poolKey(this.target, this.options);
    const entry = pool.get(key) ?? openSession(key, this.target, this.options);
    entry.users++;
    this.entry = entry;
    entry.ready.then((supported) => (supported ? this.request(entry) : this.unsupported()));
  }

  private unsupported(): void {
    if (this.settled) return;
    this.drop();
    const fallback = typeof this.options.http2 !== 'object' || this.options.http2.fallback !== false;
    if (!fallback) return this.fail(new HandshakeError('The server does not take WebSockets over HTTP/2 (no SETTINGS_ENABLE_CONNECT_PROTOCOL)'));
    this.settle();
    this.http1();
  }

  private request(entry: PoolEntry): void {
    if (this.settled) return;
    if (entry.session.closed || entry.session.destroyed) return this.fail(new HandshakeError('The HTTP/2 session closed before the handshake'));
    const handshake = new Handshake(this.handshakeOptions);
    const authority = this.target.url.host;
    const headers: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(this.options.headers ?? {})) {
      const lower = name.toLowerCase();
      // Connection-specific fields are malformed in HTTP/2 (RFC 9113 §8.2.2); Host is :authority.
      if (!CONNECTION_SPECIFIC.has(lower)) headers[lower] = typeof value === 'number' ? String(value) : value;
    }
    Object.assign(headers, extendedConnectHeaders(this.target.path, authority, handshake.requestHeaders()));
    if (this.options.origin) headers.origin = this.options.origin;
    const auth = credentials(this.target.url) ?? this.options.auth;
    if (auth) headers.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = entry.session.request(headers, { endStream: false });
    } catch (error) {
      return this.fail(new HandshakeError((error as Error).message, undefined, undefined, { cause: error }));
    }
    this.stream = stream;
    stream.on('error', this.onStreamError);
    stream.once('close', this.onStreamClose);
    stream.once('response', (responseHeaders) => this.onResponse(handshake, stream, responseHeaders));
  }

  private onResponse(handshake: ClientHandshake, stream: http2.ClientHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    if (this.settled) return;
    const status = Number(headers[':status']);
    const agreed = handshake.checkExtendedConnectResponse(status, headers);
    if (!agreed.ok) return this.fail(new HandshakeError(agreed.message, status, headers));
    const entry = this.entry!;
    this.settle();
    stream.removeListener('error', this.onStreamError);
    stream.removeListener('close', this.onStreamClose);
    stream.once('close', () => release(entry));
    const ws = this.ws;
    ws.setAgreed(agreed.protocol, agreed.extensions);
    const connection = this.options.autoPong === false ? { ...agreed.connection, autoPong: false } : agreed.connection;
    ws.attach(asWebSocketStream(stream), 'client', connection, {
      closeTimeout: this.options.closeTimeout,
      policies: resolvePolicies(this.options, null, 'client'),
    });
    markOverHttp2(ws);
    ws.emit('open');
    ws.startReading();
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.ws.abortHandshake = null;
  }

  /** Gives back the session (and resets the stream) of an attempt that did not become a WebSocket. */
  private drop(): void {
    const stream = this.stream;
    this.stream = null;
    if (stream && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    if (this.entry) release(this.entry);
    this.entry = null;
  }

  private fail(error: Error): void {
    if (this.settled) return;
    this.settle();
    this.drop();
    this.ws.setReadyState(this.ws.CLOSING);
    process.nextTick(failLater, this.ws, error);
  }
}

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

function failLater(ws: WebSocket, error: Error): void {
  ws.failHandshake(error);
}

function credentials(url: URL): string | undefined {
  if (!url.username && !url.password) return undefined;
  return `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
}
