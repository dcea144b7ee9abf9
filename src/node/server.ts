/**
 * WebSocketServer: accepts the opening handshake (RFC 6455 §4.2) on its own port, on an existing
 * http(s) server, or through `handleUpgrade` for servers that route upgrades themselves.
 */
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import type * as http2 from 'node:http2';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { CloseCode, DEFAULT_MAX_PAYLOAD } from '../protocol/constants.js';
import type { DeflateOptions } from '../protocol/extensions/permessage-deflate.js';
import { isFieldValue, isToken, unsafeRefusal } from '../protocol/handshake.js';
import { refusalResponse, ServerHandshake, type CheckedRequest, type ServerAcceptance } from '../protocol/server-handshake.js';
import { resolvePolicies, type Policies, type PolicyOptions } from './policies.js';
import { noteUpgrade, publishAccepted, publishRefused } from './diagnostics.js';
import { ServerStats, type StatsSnapshot } from './stats.js';
import type { Broker } from './broker.js';
import { PubSub, type PublishOptions } from './topics.js';
import { originAllowed, type OriginRule } from './origins.js';
import type { HistoryOption } from './history.js';
import type { AuthorizeTopic } from './topics-protocol.js';
import { WebSocket, type Data } from './websocket.js';
import { attachHttp2, isHttp2Server, serveHttp2Connections } from './http2-server.js';
import { RequestHead, type ServerRequest } from './request-head.js';
import { closePendingConnections, createUpgradeListener } from './upgrade-listener.js';

export type { ServerRequest } from './request-head.js';

export interface VerifyInfo {
  origin: string | undefined;
  secure: boolean;
  req: ServerRequest;
}
type VerifyCallback = (result: boolean, code?: number, message?: string, headers?: Record<string, string>) => void;

/** What `authenticate` may return: a user, or false/null/undefined to refuse (401). */
type AuthResult<User> = User | false | null | undefined;

export interface ServerOptions<User = unknown, W extends WebSocket<any, any> = WebSocket<'nodebuffer', User>>
  extends PolicyOptions,
    Pick<https.ServerOptions, 'key' | 'cert' | 'ca' | 'pfx' | 'passphrase'> {
  /** Listen on this port (with `key` and `cert`: over TLS, for wss://). */
  port?: number;
  host?: string;
  /**
   * Attach to this http(s) server's 'upgrade' events; on an `http2` server, also to its extended
   * CONNECT streams (RFC 8441), with SETTINGS_ENABLE_CONNECT_PROTOCOL announced to new sessions.
   */
  server?: http.Server | https.Server | http2.Http2SecureServer | http2.Http2Server;
  /** Neither listen nor attach: call `handleUpgrade` yourself. */
  noServer?: boolean;
  /** Only accept upgrades for this path (query string ignored). */
  path?: string;
  maxPayload?: number;
  closeTimeout?: number;
  /** Deliver messages as 'fragment' events instead of whole 'message' events. */
  streaming?: boolean;
  /** permessage-deflate (RFC 7692): off by default; `true` or options to accept clients' offers. */
  perMessageDeflate?: boolean | DeflateOptions;
  /** Picks the subprotocol from those offered; false for none. Default: the first one offered. */
  handleProtocols?(protocols: Set<string>, req: ServerRequest): string | false | null | undefined | void;
  /**
   * Accepts or refuses a handshake before the upgrade: return a boolean (or a promise of one), or
   * take a callback `(result, code, message, headers)` as the `ws` package does. Refusal is a 401,
   * as in `ws`, unless the callback gives another code.
   */
  verifyClient?:
    | ((info: VerifyInfo) => boolean | Promise<boolean>)
    | ((info: VerifyInfo, callback: VerifyCallback) => void);
  /**
   * Authenticates the request before the upgrade. Its result is attached as `ws.user`; `false` or
   * `null` refuses with 401; an error with a `status` refuses with that status (and its `headers`,
   * if any); any other error is a 500 and an 'upgradeError' event.
   */
  // A method signature: a hook written for IncomingMessage (what `server:` passes) still fits.
  authenticate?(req: ServerRequest): AuthResult<User> | Promise<AuthResult<User>>;
  /**
   * Origins browsers' pages may connect from: exact strings (case-insensitive) or RegExps (anchor
   * them). Others are refused with 403. A request without Origin (not a browser) is let through.
   */
  allowedOrigins?: readonly OriginRule[];
  /** Keep `clients`, the set of open connections (default true). False: it stays empty. */
  clientTracking?: boolean;
  /** Answer pings with pongs (default true). False: the app answers them, or does not. */
  autoPong?: boolean;
  /** The class accepted connections are made of: a subclass of WebSocket (default WebSocket). */
  WebSocket?: new () => W;
  /**
   * False: connections stay on the documented stream path even where the raw fast path could run
   * (README "I/O paths"); `RFC6455_FAST_PATH=0` does the same for the whole process.
   */
  fastPath?: boolean;
  /** Most open connections; more are refused with 503. */
  maxConnections?: number;
  /** Most open connections from one client address; more are refused with 429. */
  maxConnectionsPerIp?: number;
  /**
   * Milliseconds a client has to complete the opening handshake, hooks included (default 10 s).
   * On a server of its own, a connection that has not upgraded by then (a slowloris) is dropped.
   */
  handshakeTimeout?: number;
  /** Where `publish()` goes beyond this server's connections (e.g. a `RedisBroker`); default: nowhere. */
  broker?: Broker;
  /** Resumable topics: keep a history of these topics, with positions (README "Resumable topics"). */
  history?: HistoryOption;
  /** Authorizes each topic a client of the rfc6455.topics.v1 subprotocol subscribes to (default: all). */
  authorizeTopic?: AuthorizeTopic;
}

interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

export interface WebSocketServerEventMap<W extends WebSocket<any, any> = WebSocket> {
  connection: [ws: W, req: ServerRequest];
  /**
   * No arguments. Typed as taking any, so that `new Promise((resolve) => wss.once('listening',
   * resolve))` type-checks, as it does with ws's types (a `[]` here refuses a one-argument resolve).
   */
  listening: any[];
  error: [error: Error];
  /** A hook threw an error without a status, or refused with an unsafe status or header: the client got a 500. */
  upgradeError: [error: unknown, req: ServerRequest];
  /**
   * The 101 response's lines (status line first), before they are written: a listener may add,
   * change or remove header lines. A line that is not a valid header makes the answer a 500.
   */
  headers: [headers: string[], req: ServerRequest];
  /**
   * An invalid handshake request (bad method, headers, key or version). With a listener, the
   * server does not answer: the listener owns the socket (`error.status` and `error.headers` say
   * what the answer would have been). Without one, the client gets that answer.
   */
  wsClientError: [error: HandshakeRequestError, socket: Duplex, req: ServerRequest];
  /** No arguments (typed as any, for `resolve` as a listener, like 'listening'). */
  close: any[];
}

/** Why a handshake request was refused, and the answer the server would send. */
export interface HandshakeRequestError extends Error {
  status: number;
  headers: Record<string, string>;
}

export class WebSocketServer<User = unknown, W extends WebSocket<any, any> = WebSocket<'nodebuffer', User>> extends EventEmitter<
  WebSocketServerEventMap<W>
> {
  /** The open connections; stays empty with `clientTracking: false`. */
  readonly clients = new Set<W>();
  readonly options: ServerOptions<User, W>;
  /** Open connections, counted whether or not `clients` holds them (for maxConnections and close). */
  private open = 0;
  private readonly tracking: boolean;
  private readonly Socket: new () => W;
  /** Set once close() has finished: a later close() is told the server is not running. */
  private stopped = false;
  /** The server upgrades come from: our own listener (`port`) or the application's (`server`). */
  private readonly httpServer: NetServer | null;
  private readonly ownsServer: boolean;
  /** Closes the HTTP/2 sessions of a server of our own, or detaches from an app's http2 server. */
  private http2Done: (() => void) | null = null;
  /** @internal */
  closed = false;
  private closing: Promise<void> | null = null;
  private drained: (() => void) | null = null;
  private readonly statistics = new ServerStats();
  private readonly policies: Policies;
  private readonly perIp = new Map<string, number>();
  private readonly handshakeTimeout: number;
  private readonly pubsub: PubSub;
  /** @internal */
  readonly handshake: ServerHandshake<ServerRequest>;

  constructor(options: ServerOptions<User, W>, callback?: () => void) {
    super();
    // JavaScript callers may give nothing: the mode check below says what is missing.
    options ??= {} as ServerOptions<User, W>;
    this.options = { maxPayload: DEFAULT_MAX_PAYLOAD, ...options };
    this.tracking = options.clientTracking ?? true;
    this.Socket = options.WebSocket ?? (WebSocket as unknown as new () => W);
    const modes = [options.port !== undefined, options.server !== undefined, options.noServer === true];
    if (modes.filter(Boolean).length !== 1) {
      throw new TypeError('Exactly one of the "port", "server" and "noServer" options must be given');
    }
    this.policies = resolvePolicies(options, this.statistics, 'server');
    this.handshakeTimeout = options.handshakeTimeout ?? 10_000;
    this.pubsub = new PubSub(options.broker, options);
    this.handshake = new ServerHandshake({
      path: options.path,
      handleProtocols: options.handleProtocols,
      perMessageDeflate: options.perMessageDeflate,
      maxPayload: this.options.maxPayload,
      streaming: options.streaming,
    });
    this.ownsServer = options.port !== undefined;
    this.httpServer = this.ownsServer ? createServer(options) : ((options.server as http.Server | undefined) ?? null);
    const server = this.httpServer;
    if (!server) return;
    if (isHttp2Server(server)) this.http2Done = attachHttp2(this, server);
    server.on('upgrade', this.onUpgrade);
    server.on('listening', this.onListening);
    server.on('error', this.onError);
    if (!this.ownsServer) return;
    server.on(options.cert || options.pfx ? 'secureConnection' : 'connection', this.onSocket);
    if (options.cert || options.pfx) this.http2Done = serveHttp2Connections(server, this);
    server.listen(options.port, options.host, callback);
  }

  /** On a server of its own, every connection must upgrade within the handshake timeout. */
  private readonly onSocket = (socket: Socket) => armHandshakeTimer(socket, this.handshakeTimeout);

  private readonly onUpgrade = (req: ServerRequest, socket: Duplex, head: Buffer) => {
    // Leave other paths to other 'upgrade' listeners, if the server has any.
    if (!this.shouldHandle(req) && this.httpServer!.listenerCount('upgrade') > 1) return;
    if ((socket as PendingSocket)[kHandled]) {
      // Another WebSocketServer on this http server took the socket (both serve its path): a
      // misconfiguration to report, but not by throwing out of Node's 'upgrade' event.
      const error = new Error('Another WebSocketServer already handles this upgrade: give each server its own path');
      if (this.listenerCount('error') > 0) this.emit('error', error);
      else process.emitWarning(error);
      return;
    }
    this.handleUpgrade(req, socket, head, (ws) => this.emit('connection', ws, req));
  };
  private readonly onListening = () => this.emit('listening');
  private readonly onError = (error: Error) => this.emit('error', error);

  address(): AddressInfo | string | null {
    if (!this.httpServer) throw new Error('The server is in "noServer" mode');
    return this.httpServer.address();
  }

  /** Whether the request's path (origin-form or absolute-form target) is this server's. */
  shouldHandle(req: ServerRequest): boolean {
    return this.handshake.matchesPath(req.url);
  }

  /** Completes (or refuses) the handshake for an upgrade request, then hands the socket to `callback`. */
  handleUpgrade(req: ServerRequest, socket: Duplex, head: Buffer, callback: (ws: W, req: ServerRequest) => void): void {
    // Two handshakes on one socket would interleave two answers: a misconfiguration (two servers
    // on one 'upgrade' event, say), reported to the caller instead of corrupting the stream.
    if ((socket as PendingSocket)[kHandled]) {
      throw new Error('handleUpgrade() was called more than once with the same socket');
    }
    (socket as PendingSocket)[kHandled] = true;
    socket.on('error', destroyOnError);
    noteUpgrade(socket, req);
    if (this.closed) return this.refuse(socket, { status: 503, message: 'Server is closing' });
    const checked = this.handshake.check(req);
    if (!checked.ok) return this.refuseRequest(req, socket, checked);
    const { allowedOrigins } = this.options;
    if (allowedOrigins && !originAllowed(req, allowedOrigins)) {
      return this.refuse(socket, { status: 403, message: 'Origin not allowed' });
    }
    const refusal = this.admit(req);
    if (refusal) return this.refuse(socket, refusal);
    const hooks = this.options.verifyClient || this.options.authenticate;
    if (!hooks) return this.upgrade(socket, head, checked, undefined, callback);
    // Hooks get the handshake timeout too: a hook that never settles must not hold the socket.
    if (!(socket as PendingSocket)[kHandshakeTimer]) armHandshakeTimer(socket, this.handshakeTimeout);
    const hooksDone = this.runHooks(req, socket);
    // Nobody else watches the socket while the hooks run, and http sockets allow half-open: a
    // client that hangs up would leave it open until the timer fired. Added once verifyClient has
    // run (synchronously, in runHooks): an 'end' listener of its own sees the socket half-closed
    // (still writable), as in ws, before this one lets it go.
    socket.once('end', destroyOnEnd);
    hooksDone.then(
      (outcome) => {
        if (!('status' in outcome)) return this.upgrade(socket, head, checked, outcome.user, callback);
        // The app shaped this refusal: one it cannot send safely is its error, and a 500.
        const problem = invalidRefusal(outcome);
        if (problem) this.emit('upgradeError', new Error(problem), req);
        this.refuse(socket, outcome);
      },
      (error: unknown) => {
        this.emit('upgradeError', error, req);
        this.refuse(socket, { status: 500, message: 'Internal Server Error' });
      },
    );
  }

  /**
   * A request that is not a valid handshake: answered here, or (ws's 'wsClientError') handed to
   * the app's listener, which answers it. A path that is not ours is routing, not a client error.
   */
  private refuseRequest(req: ServerRequest, socket: Duplex, refusal: Refusal): void {
    if (refusal.status === 404 || this.listenerCount('wsClientError') === 0) return this.refuse(socket, refusal);
    this.statistics.refused(refusal.status);
    const error = Object.assign(new Error(refusal.message), { status: refusal.status, headers: { ...refusal.headers } });
    this.emit('wsClientError', error, socket, req);
  }

  /** @internal Checks of this server's state rather than of the request: closing, connection limits. */
  admit(req: ServerRequest): Refusal | null {
    if (this.closed) return { status: 503, message: 'Server is closing' };
    const { maxConnections, maxConnectionsPerIp } = this.options;
    if (maxConnections !== undefined && this.open >= maxConnections) {
      return { status: 503, message: 'Too many connections', headers: { 'Retry-After': '5' } };
    }
    if (maxConnectionsPerIp !== undefined && (this.perIp.get(clientAddress(req)) ?? 0) >= maxConnectionsPerIp) {
      return { status: 429, message: 'Too many connections from this address', headers: { 'Retry-After': '5' } };
    }
    return null;
  }

  private refuse(socket: Duplex, refusal: Refusal): void {
    this.countRefusal(socket, refusal);
    refuse(socket, refusal);
  }

  /** @internal A refusal goes into the stats and the diagnostics channel, whatever carries it. */
  countRefusal(socket: Duplex, refusal: Refusal): void {
    this.statistics.refused(invalidRefusal(refusal) ? 500 : refusal.status);
    publishRefused(socket, invalidRefusal(refusal) ? 500 : refusal.status, refusal.message);
  }

  /** Counters since the server started: connections, handshakes, messages, bytes, close codes. */
  stats(): StatsSnapshot {
    return this.statistics.snapshot();
  }

  /** @internal */
  async runHooks(req: ServerRequest, socket: Duplex): Promise<Refusal | { user: unknown }> {
    const { verifyClient, authenticate } = this.options;
    if (verifyClient) {
      const info: VerifyInfo = {
        origin: (req.headers.origin ?? req.headers['sec-websocket-origin']) as string | undefined,
        secure: Boolean((socket as { encrypted?: boolean }).encrypted),
        req,
      };
      const verdict = await runVerify(verifyClient, info);
      if (verdict) return verdict;
    }
    if (!authenticate) return { user: undefined };
    try {
      const user = await authenticate(req);
      if (user === false || user === null || user === undefined) return { status: 401, message: 'Unauthorized' };
      return { user };
    } catch (error) {
      const status = (error as { status?: unknown } | null | undefined)?.status;
      if (typeof status === 'number' && status >= 400 && status < 600) {
        const headers = (error as { headers?: unknown }).headers;
        const plain = typeof headers === 'object' && headers !== null && !Array.isArray(headers);
        return { status, message: (error as Error).message || 'Refused', headers: plain ? (headers as Record<string, string>) : undefined };
      }
      throw error;
    }
  }

  private upgrade(
    socket: Duplex,
    head: Buffer,
    checked: CheckedRequest<ServerRequest>,
    user: unknown,
    callback: (ws: W, req: ServerRequest) => void,
  ): void {
    const req = checked.request;
    // The client may have gone while the hooks ran (its FIN already read: not readable), and
    // limits may have filled meanwhile.
    if (!socket.readable || !socket.writable || socket.destroyed) return void socket.destroy();
    const refusal = this.admit(req);
    if (refusal) return this.refuse(socket, refusal);
    let accepted: ServerAcceptance;
    let response: string;
    let ws: W;
    try {
      const result = this.handshake.accept(checked);
      if (!result.ok) throw new Error('handleProtocols returned a value that is not a token');
      accepted = result;
      response = this.responseHead(accepted.response, req);
      ws = new this.Socket();
    } catch (error) {
      // handleProtocols, 'headers' listeners and the WebSocket class are app code: their failure
      // is this handshake's 500, never a throw out of an 'upgrade' listener or a promise callback.
      this.emit('upgradeError', error, req);
      return this.refuse(socket, { status: 500, message: 'Internal Server Error' });
    }
    clearHandshakeTimer(socket);
    socket.write(response);
    socket.removeListener('error', destroyOnError);
    socket.removeListener('end', destroyOnEnd);
    this.adopt(ws, socket, req, accepted, user, head, callback);
  }

  /** @internal A new instance of the connections' class (app code: it may throw). */
  createSocket(): W {
    return new this.Socket();
  }

  /** @internal An accepted handshake, over HTTP/1.1 or HTTP/2: the WebSocket takes the socket or stream. */
  adopt(
    ws: W,
    socket: Duplex,
    req: ServerRequest,
    accepted: Omit<ServerAcceptance, 'response'>,
    user: unknown,
    head: Buffer | undefined,
    callback: (ws: W, req: ServerRequest) => void,
  ): void {
    publishAccepted(req);

    ws.setAgreed(accepted.protocol, accepted.extensions);
    ws.user = user;
    ws.setUrl(req.url ?? '/');
    const connection = this.options.autoPong === false ? { ...accepted.connection, autoPong: false } : accepted.connection;
    ws.attach(socket, 'server', connection, { closeTimeout: this.options.closeTimeout, policies: this.policies, fastPath: this.options.fastPath });
    if (this.options.maxConnectionsPerIp !== undefined) {
      ws.peerAddress = clientAddress(req);
      this.perIp.set(ws.peerAddress, (this.perIp.get(ws.peerAddress) ?? 0) + 1);
    }
    ws.closeHook = this.onClientClose;
    this.open++;
    if (this.tracking) this.clients.add(ws);
    ws.pubsub = this.pubsub;
    this.pubsub.accept(ws);
    this.statistics.connections++;
    this.statistics.handshakesAccepted++;
    callback(ws, req);
    ws.startReading(head);
  }

  /**
   * The 101 head as written: 'headers' listeners see its lines and may change them. What they
   * leave must still be header lines, or the client would read our frames as more headers.
   */
  private responseHead(head: string, req: ServerRequest): string {
    if (this.listenerCount('headers') === 0) return head;
    const lines = head.slice(0, -4).split('\r\n');
    this.emit('headers', lines, req);
    const [status, ...fields] = lines;
    if (typeof status !== 'string' || !status.startsWith('HTTP/1.1 101 ')) throw new Error(`'headers' listener changed the status line`);
    for (const line of fields) {
      const colon = typeof line === 'string' ? line.indexOf(':') : -1;
      if (colon <= 0 || !isToken(line.slice(0, colon)) || !isFieldValue(line.slice(colon + 1))) {
        throw new Error(`'headers' listener left an invalid header line: ${JSON.stringify(line)}`);
      }
    }
    return lines.join('\r\n') + '\r\n\r\n';
  }

  /** Bookkeeping when a connection ends: one function for all connections, not a closure each. */
  private readonly onClientClose = (ws: WebSocket<any, any>, code: number): void => {
    this.statistics.closed(code);
    if (ws.peerAddress !== undefined) {
      const left = this.perIp.get(ws.peerAddress)! - 1;
      if (left === 0) this.perIp.delete(ws.peerAddress);
      else this.perIp.set(ws.peerAddress, left);
    }
    this.clients.delete(ws as W);
    if (--this.open === 0) this.drained?.();
  };

  /**
   * Sends a message to every connection subscribed to `topic`, here and (through the broker) on
   * the other servers. Serialized once; returns how many local connections it was written to.
   */
  publish(topic: string, data: Data, options?: PublishOptions): number {
    return this.pubsub.publish(topic, data, options);
  }

  /** Sends a message, serialized once, to every connection of this server. */
  broadcast(data: Data, options?: PublishOptions): number {
    // Without tracking there is no list to send to: an error, not a broadcast that reaches nobody.
    if (!this.tracking) throw new Error('broadcast() needs clientTracking');
    return this.pubsub.broadcast(this.clients, data, options);
  }

  /**
   * Stops accepting connections and closes every open one with a close handshake (1001 unless
   * `code` says otherwise); after `timeout` ms (default 10 s) the rest are terminated. Resolves
   * once all are closed, and 'close' is emitted once. A server passed in with `server` is left
   * listening. Called again while closing, it waits for the same end; called once closed, the
   * callback gets an error (the server is not running, as in ws), 'close' is emitted again (as in
   * ws) and the promise still resolves.
   * With `clientTracking: false` the connections are not known: they are left open.
   */
  close(callback?: (error?: Error) => void): Promise<void>;
  close(options: CloseOptions, callback?: (error?: Error) => void): Promise<void>;
  close(options?: CloseOptions | ((error?: Error) => void), callback?: (error?: Error) => void): Promise<void> {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    // Every call gets the one shutdown: a second must not replace the first's resolver.
    const done = (this.closing ??= this.shutdown(options));
    if (this.stopped) {
      if (callback) process.nextTick(callback, new Error('The server is not running'));
      // As in ws: code that calls close() and then waits for 'close' must not wait forever.
      process.nextTick(() => this.emit('close'));
    } else if (callback) {
      done.then(() => callback!(), callback);
    }
    return done;
  }

  private shutdown(options: CloseOptions | undefined): Promise<void> {
    const { code = CloseCode.GoingAway, reason = '', timeout = 10_000 } = options ?? {};
    this.closed = true;
    const server = this.httpServer;
    if (server) {
      server.off('upgrade', this.onUpgrade);
      server.off('listening', this.onListening);
      server.off('error', this.onError);
    }
    if (!this.ownsServer) this.http2Done?.();
    const allClosed = new Promise<void>((resolve) => {
      if (this.open === 0 || !this.tracking) return resolve();
      this.drained = resolve;
      for (const ws of this.clients) ws.close(code, reason);
      const timer = setTimeout(() => {
        for (const ws of this.clients) ws.terminate('Server shutdown timed out');
      }, timeout);
      timer.unref();
    });
    const serverClosed = new Promise<void>((resolve) => {
      if (!this.ownsServer || !server!.listening) return resolve();
      // Connections we do not track would hold server.close()'s callback until the app ends
      // them: without tracking, stopping to listen (at once) is the end we wait for.
      server!.close(this.tracking ? () => resolve() : undefined);
      closePendingConnections(server!);
      this.http2Done?.();
      if (!this.tracking) resolve();
    });
    return Promise.all([allClosed, serverClosed])
      .then(() => this.pubsub.close())
      .then(() => {
        this.stopped = true;
        this.emit('close');
      });
  }
}

export interface CloseOptions {
  code?: number;
  reason?: string;
  /** Milliseconds to wait for close handshakes before terminating the rest. */
  timeout?: number;
}

const kHandshakeTimer = Symbol('rfc6455.handshakeTimer');
const kHandled = Symbol('rfc6455.handled');
type PendingSocket = Duplex & { [kHandshakeTimer]?: NodeJS.Timeout; [kHandled]?: true };

/**
 * Drops the socket if it has not upgraded within `ms`. Cleared on upgrade, refusal and close, and
 * unref'd: the socket keeps the process alive while it is open, the timer must not keep it after.
 */
function armHandshakeTimer(socket: Duplex, ms: number): void {
  const timer = setTimeout(dropUnupgraded, ms, socket);
  timer.unref();
  (socket as PendingSocket)[kHandshakeTimer] = timer;
  socket.once('close', onPendingClose);
}

function clearHandshakeTimer(socket: Duplex): void {
  const pending = socket as PendingSocket;
  if (!pending[kHandshakeTimer]) return;
  clearTimeout(pending[kHandshakeTimer]);
  pending[kHandshakeTimer] = undefined;
  socket.removeListener('close', onPendingClose);
}

function onPendingClose(this: Duplex): void {
  clearHandshakeTimer(this);
}

function dropUnupgraded(socket: Duplex): void {
  socket.destroy();
}

/** Why a refusal cannot be sent as shaped (refusalResponse then sends a 500), or null. */
function invalidRefusal(refusal: Refusal): string | null {
  return unsafeRefusal(refusal.status, refusal.headers);
}

function clientAddress(req: ServerRequest): string {
  // A RequestHead tells the address without making a net.Socket where the server made none.
  return (req instanceof RequestHead ? req.remoteAddress : req.socket.remoteAddress) ?? '';
}

/**
 * The standalone server's listener: node:net (node:tls with a certificate) reading request heads
 * itself (upgrade-listener.ts), so a connection costs no node:http parser, IncomingMessage or
 * ServerResponse; plain requests get their 426 there.
 */
function createServer(options: ServerOptions): NetServer {
  if (options.cert || options.pfx) {
    const { key, cert, ca, pfx, passphrase } = options;
    // The TLS handshake gets the handshake timeout too: a client that never sends its ClientHello
    // would otherwise hold the socket for Node's default 120 s ('secureConnection' never comes).
    const handshakeTimeout = options.handshakeTimeout ?? 10_000;
    // ALPN: browsers with an HTTP/2 connection open WebSockets on it (RFC 8441) when offered h2.
    return createUpgradeListener({ key, cert, ca, pfx, passphrase, handshakeTimeout, ALPNProtocols: ['h2', 'http/1.1'] });
  }
  return createUpgradeListener(null, options.fastPath === false ? undefined : { handshakeTimeout: options.handshakeTimeout ?? 10_000 });
}

async function runVerify(verify: NonNullable<ServerOptions['verifyClient']>, info: VerifyInfo): Promise<Refusal | null> {
  if (verify.length >= 2) {
    return new Promise((resolve) => {
      (verify as (info: VerifyInfo, callback: VerifyCallback) => void)(info, (result, code = 401, message, headers) => {
        resolve(result ? null : { status: code, message: message ?? (code === 401 ? 'Unauthorized' : 'Refused'), headers });
      });
    });
  }
  // 401 as in ws, so code written for ws sees the status it expects.
  const result = await (verify as (info: VerifyInfo) => boolean | Promise<boolean>)(info);
  return result ? null : { status: 401, message: 'Unauthorized' };
}

function refuse(socket: Duplex, refusal: Refusal): void {
  clearHandshakeTimer(socket);
  socket.removeListener('end', destroyOnEnd);
  socket.removeListener('error', destroyOnError);
  socket.on('error', destroyOnError);
  if (!socket.writable) return void socket.destroy();
  socket.end(refusalResponse(refusal), () => socket.destroy());
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

function destroyOnEnd(this: Duplex): void {
  this.destroy();
}
