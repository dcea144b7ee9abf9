/**
 * WebSockets over HTTP/2 on the server (RFC 8441): a WebSocketServer on an `http2` server
 * announces SETTINGS_ENABLE_CONNECT_PROTOCOL, takes each extended CONNECT for `websocket`, runs
 * the same checks, hooks and limits as an HTTP/1.1 upgrade, answers `:status 200` and hands the
 * stream to the same Connection. Refusals are HTTP/2 responses with the HTTP/1.1 statuses.
 */
import * as http2 from 'node:http2';
import type * as http from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { checkExtendedConnect, isExtendedConnect } from '../protocol/extended-connect.js';
import { targetPath, unsafeRefusal } from '../protocol/handshake.js';
import { noteUpgrade } from './diagnostics.js';
import { asWebSocketStream, markOverHttp2, STREAM_WINDOW, widenConnectionWindow } from './http2-stream.js';
import { originAllowed } from './origins.js';
import type { WebSocketServer } from './server.js';
import type { WebSocket } from './websocket.js';

export type AnyHttp2Server = http2.Http2SecureServer | http2.Http2Server;
type Server = WebSocketServer<any, WebSocket<any, any>>;

/**
 * What a WebSocket over HTTP/2 gives the server's hooks as `req`: the fields of an IncomingMessage
 * a handshake has. `headers` keeps the pseudo-headers (`:path`, `:authority`…), as node:http2 does;
 * `socket` is the TLS connection the session runs on, `stream` the WebSocket's own stream.
 */
export class Http2UpgradeRequest {
  readonly method = 'CONNECT';
  readonly httpVersion = '2.0';
  readonly httpVersionMajor = 2;
  readonly httpVersionMinor = 0;
  readonly url: string;

  constructor(
    readonly headers: http2.IncomingHttpHeaders,
    readonly rawHeaders: string[],
    readonly stream: http2.ServerHttp2Stream,
    readonly socket: Socket | TLSSocket,
  ) {
    this.url = String(headers[':path'] ?? '/');
  }
}

interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

const kServers = Symbol('rfc6455.http2Servers');
const kTaken = Symbol('rfc6455.http2Taken');
type Host = AnyHttp2Server & { [kServers]?: Server[] };
type Stream = http2.ServerHttp2Stream & { [kTaken]?: true };

/** Whether a server given as `server:` speaks HTTP/2 (its upgrades come as streams). */
export function isHttp2Server(server: object): server is AnyHttp2Server {
  // node:http2 does not export its server classes; of Node's servers only these have updateSettings.
  return typeof (server as { updateSettings?: unknown }).updateSettings === 'function';
}

/**
 * Serves `wss` on `server`'s streams. The setting is announced to every session opened from now
 * on (sessions already open never saw it: their clients use HTTP/1.1 or a new connection).
 * Returns the function that detaches.
 */
export function attachHttp2(wss: Server, server: AnyHttp2Server): () => void {
  const host = server as Host;
  server.updateSettings({ enableConnectProtocol: true });
  if (!host[kServers]) {
    host[kServers] = [];
    // First, before the app's own 'stream' listeners and node:http2's compatibility layer (which
    // answers a CONNECT nobody listens for with 405).
    server.prependListener('stream', onStream);
    server.on('connect', onCompatConnect);
  }
  host[kServers].push(wss);
  return () => {
    const list = host[kServers]!;
    list.splice(list.indexOf(wss), 1);
  };
}

function onStream(this: Host, stream: Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]): void {
  if (!isExtendedConnect(headers)) return;
  const servers = this[kServers]!;
  if (servers.length === 0) return;
  // Another endpoint's protocol (not ours to refuse) when someone else listens for streams.
  const protocol = String(headers[':protocol']).toLowerCase();
  if (protocol !== 'websocket' && this.listenerCount('stream') > 1) return;
  const path = headers[':path'] as string | undefined;
  const wss = servers.find((s) => s.shouldHandle({ url: path } as http.IncomingMessage)) ?? servers[servers.length - 1];
  stream[kTaken] = true;
  handleStream(wss, stream, headers, rawHeaders);
}

/** The compatibility layer saw a CONNECT: ours, or one to answer 405 as node:http2 would have. */
function onCompatConnect(this: Host, req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  if ((req.stream as Stream)[kTaken]) return;
  if (this.listenerCount('connect') > 1) return;
  res.statusCode = 405;
  res.end();
}

/** An extended CONNECT: the steps of `handleUpgrade`, answered with HTTP/2 responses. */
export function handleStream(wss: Server, stream: Stream, headers: http2.IncomingHttpHeaders, rawHeaders: string[]): void {
  // A peer's RST_STREAM while the hooks run would be an unheard 'error'.
  stream.on('error', ignore);
  const session = stream.session;
  const req = new Http2UpgradeRequest(headers, rawHeaders, stream, session!.socket as Socket);
  const request = req as unknown as http.IncomingMessage;
  noteUpgrade(stream, request);
  const refuse = (refusal: Refusal) => refuseStream(wss, stream, refusal);
  if (wss.closed) return refuse({ status: 503, message: 'Server is closing' });
  const checked = checkExtendedConnect(headers);
  if (!checked.ok) return refuse(checked);
  if (targetPath(checked.path) === null) return refuse({ status: 400, message: 'Invalid request target' });
  if (!wss.handshake.matchesPath(checked.path)) return refuse({ status: 404, message: 'No WebSocket endpoint at this path' });
  const { allowedOrigins } = wss.options;
  if (allowedOrigins && !originAllowed(request, allowedOrigins)) return refuse({ status: 403, message: 'Origin not allowed' });
  const refusal = wss.admit(request);
  if (refusal) return refuse(refusal);
  const callback = (ws: WebSocket<any, any>) => wss.emit('connection', ws, request);
  if (!wss.options.verifyClient && !wss.options.authenticate) return acceptStream(wss, stream, request, checked.protocols, undefined, callback);
  // The hooks get the handshake timeout: a hook that never settles must not hold the stream.
  const timer = setTimeout(cancel, wss.options.handshakeTimeout ?? 10_000, stream).unref();
  wss.runHooks(request, session!.socket as Socket).then(
    (outcome) => {
      clearTimeout(timer);
      if (!('status' in outcome)) return acceptStream(wss, stream, request, checked.protocols, outcome.user, callback);
      const problem = unsafeRefusal(outcome.status, outcome.headers);
      if (problem) wss.emit('upgradeError', new Error(problem), request);
      refuse(outcome);
    },
    (error: unknown) => {
      clearTimeout(timer);
      wss.emit('upgradeError', error, request);
      refuse({ status: 500, message: 'Internal Server Error' });
    },
  );
}

function acceptStream(
  wss: Server,
  stream: Stream,
  req: http.IncomingMessage,
  protocols: string[],
  user: unknown,
  callback: (ws: WebSocket<any, any>) => void,
): void {
  // The client may have reset the stream while the hooks ran, and limits may have filled.
  if (stream.destroyed || stream.closed || !stream.writable) return void stream.destroy();
  const refusal = wss.admit(req);
  if (refusal) return refuseStream(wss, stream, refusal);
  let ws: WebSocket<any, any>;
  let agreed: ReturnType<Server['handshake']['agree']>;
  try {
    agreed = wss.handshake.agree(req, protocols);
    if (!agreed.ok) throw new Error('handleProtocols returned a value that is not a token');
    ws = wss.createSocket();
  } catch (error) {
    wss.emit('upgradeError', error, req);
    return refuseStream(wss, stream, { status: 500, message: 'Internal Server Error' });
  }
  const response: http2.OutgoingHttpHeaders = { ':status': 200 };
  if (agreed.protocol) response['sec-websocket-protocol'] = agreed.protocol;
  if (agreed.extensions) response['sec-websocket-extensions'] = agreed.extensions;
  stream.respond(response);
  stream.removeListener('error', ignore);
  markOverHttp2(ws);
  wss.adopt(ws, asWebSocketStream(stream), req, agreed, user, undefined, callback);
}

// Connection-specific fields are malformed in HTTP/2 (RFC 9113 §8.2.2): node:http2 throws on them.
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function refuseStream(wss: Server, stream: Stream, refusal: Refusal): void {
  let { status, message, headers } = refusal;
  if (unsafeRefusal(status, headers)) {
    status = 500;
    message = 'Internal Server Error';
    headers = undefined;
  }
  wss.countRefusal(stream, { status, message });
  if (stream.destroyed || stream.closed || stream.headersSent) return void stream.destroy();
  const response: http2.OutgoingHttpHeaders = { ':status': status, 'content-type': 'text/plain; charset=utf-8' };
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!CONNECTION_SPECIFIC.has(name.toLowerCase())) response[name.toLowerCase()] = value;
  }
  stream.respond(response);
  stream.end(message);
}

function cancel(stream: Stream): void {
  if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
}

function ignore(): void {}

/**
 * The standalone server's TLS port speaks both protocols: ALPN picks `h2` or `http/1.1`. An `h2`
 * connection goes to an HTTP/2 session (of an internal server that only serves `wss`), any other
 * to the HTTP/1.1 listeners the server had. Returns the function that closes the HTTP/2 sessions.
 */
export function serveHttp2Connections(tlsServer: NetServer, wss: Server): () => void {
  const h2 = http2.createServer({ settings: { enableConnectProtocol: true, initialWindowSize: STREAM_WINDOW } });
  attachHttp2(wss, h2);
  // A stream that is not a WebSocket: this port serves nothing else.
  h2.on('stream', (stream, headers) => {
    if ((stream as Stream)[kTaken] || stream.headersSent) return;
    // A CONNECT without :protocol is a tunnel request; anything else an HTTP/1.1-style handshake
    // or a plain request: over HTTP/2 a WebSocket is an extended CONNECT (RFC 8441 §4).
    const refusal = headers[':method'] === 'CONNECT' ? checkExtendedConnect(headers) : null;
    const status = refusal && !refusal.ok ? refusal.status : 400;
    stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8' });
    stream.end(refusal && !refusal.ok ? refusal.message : 'This port serves WebSockets only: over HTTP/2, open one with an extended CONNECT (RFC 8441)');
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    widenConnectionWindow(session);
    session.once('close', () => sessions.delete(session));
  });
  const http1 = tlsServer.listeners('secureConnection') as Array<(socket: TLSSocket) => void>;
  tlsServer.removeAllListeners('secureConnection');
  tlsServer.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') {
      socket.setNoDelay(true);
      return void h2.emit('connection', socket);
    }
    for (const listener of http1) listener.call(tlsServer, socket);
  });
  return () => {
    for (const session of sessions) session.close();
  };
}
