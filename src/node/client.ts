/**
 * The client's opening handshake (RFC 6455 §4.1) over node:http / node:https: a GET with Upgrade,
 * then the 101 response checked against what was offered before the socket is handed over.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { ClientHandshake } from '../protocol/client-handshake.js';
import type { DeflateOptions } from '../protocol/extensions/permessage-deflate.js';
import { HandshakeError } from './errors.js';
import { proxyFor, tunnel } from './proxy.js';
import { readRefusalBody } from './refusal-body.js';
import { resolvePolicies, type PolicyOptions } from './policies.js';
import type { WebSocket } from './websocket.js';

export interface ClientOptions extends PolicyOptions, Pick<TlsOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'> {
  /** Subprotocols to offer (also accepted as `new WebSocket(url, protocols)`). */
  protocols?: string | string[];
  /** Extra request headers. */
  headers?: Record<string, string>;
  origin?: string;
  /** Milliseconds for the whole handshake; default 30 s. */
  handshakeTimeout?: number;
  signal?: AbortSignal;
  maxPayload?: number;
  closeTimeout?: number;
  /** Deliver messages as 'fragment' events instead of whole 'message' events. */
  streaming?: boolean;
  agent?: http.Agent;
  /** An http:// proxy to tunnel through (CONNECT); by default HTTPS_PROXY/HTTP_PROXY/NO_PROXY; false: none. */
  proxy?: string | URL | false;
  /** permessage-deflate (RFC 7692): offered by default; false to not offer it. */
  perMessageDeflate?: boolean | DeflateOptions;
}

const DEFAULT_HANDSHAKE_TIMEOUT = 30_000;

export function openClient(
  ws: WebSocket,
  address: string | URL,
  protocols: string | string[] | undefined,
  options: ClientOptions,
): void {
  const url = parseUrl(address);
  ws.url = url.href;
  const handshake = new ClientHandshake({
    protocols: protocols ?? options.protocols,
    perMessageDeflate: options.perMessageDeflate,
    maxPayload: options.maxPayload,
    streaming: options.streaming,
  });
  const secure = url.protocol === 'wss:' || url.protocol === 'https:';
  const headers: Record<string, string> = { ...options.headers, ...handshake.requestHeaders() };
  if (options.origin) headers.Origin = options.origin;

  const requestOptions: https.RequestOptions = {
    host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port || (secure ? 443 : 80),
    path: url.pathname + url.search,
    headers,
    agent: options.agent ?? false,
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    rejectUnauthorized: options.rejectUnauthorized,
    servername: options.servername,
  };
  const proxy = options.agent ? null : proxyFor(url, options.proxy);
  if (proxy) Object.assign(requestOptions, { agent: undefined, createConnection: tunnel(proxy, { secure, timeout: options.handshakeTimeout, signal: options.signal }) });
  if (url.username || url.password) {
    requestOptions.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  }
  const request = (secure ? https : http).request(requestOptions);
  // Listen at once: an abort (even by a signal already aborted) destroys the request, which
  // emits 'error' then, and an unheard 'error' would crash the process.
  request.on('error', (error) => fail(error instanceof HandshakeError ? error : new HandshakeError(error.message)));

  let settled = false;
  const fail = (error: Error) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    ws.abortHandshake = null;
    request.destroy();
    ws.failHandshake(error);
  };
  const timeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const timer = setTimeout(() => fail(new HandshakeError(`Opening handshake timed out after ${timeout} ms`)), timeout);
  const onAbort = () => fail(new HandshakeError('Opening handshake aborted'));
  if (options.signal?.aborted) return void process.nextTick(onAbort);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  ws.abortHandshake = fail;

  request.on('response', (res) => {
    void readRefusalBody(res).then((body) => fail(new HandshakeError(`Unexpected server response: ${res.statusCode}`, res.statusCode, res.headers, body)));
  });
  request.on('upgrade', (res: http.IncomingMessage, socket: Socket, head: Buffer) => {
    const agreed = handshake.checkResponse(res.statusCode, res.headers);
    if (!agreed.ok) {
      socket.destroy();
      return fail(new HandshakeError(agreed.message, res.statusCode, res.headers));
    }
    if (settled) return void socket.destroy();
    settled = true;
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    ws.abortHandshake = null;
    ws.protocol = agreed.protocol;
    ws.extensions = agreed.extensions;
    ws.attach(socket, 'client', agreed.connection, { closeTimeout: options.closeTimeout, policies: resolvePolicies(options, null, 'client') });
    ws.emit('open');
    ws.startReading(head);
  });
  request.end();
}

function parseUrl(address: string | URL): URL {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new SyntaxError(`Invalid URL: ${address}`);
  }
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol)) {
    throw new SyntaxError(`The URL's scheme must be ws or wss, not ${url.protocol.slice(0, -1)}`);
  }
  if (url.hash) throw new SyntaxError('The URL must not contain a fragment');
  return url;
}
