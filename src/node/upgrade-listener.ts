/**
 * The standalone server's listener: node:net (node:tls with a certificate) with request heads read
 * by `parseRequestHead` instead of node:http, so a connection costs no HTTP parser, IncomingMessage
 * or ServerResponse. An upgrade is emitted as 'upgrade' (req, socket, head), as node:http does;
 * anything else is answered here and the connection closed: 426 for a plain request, the status of
 * a broken handshake or head, 431 for a head past MAX_HEAD bytes.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { buildErrorResponse, checkRequest } from '../protocol/handshake.js';
import { isUpgrade, MAX_HEAD, parseRequestHead, type RequestHead } from './request-head.js';

const kPending = Symbol('rfc6455.pending');
type Listener = net.Server & { [kPending]: Set<net.Socket> };
/** A connection still sending its head: its listener, and what arrived of the head so far. */
type PendingSocket = net.Socket & { [kPending]?: { listener: Listener; held: Buffer | null } };

export function createUpgradeListener(tlsOptions: tls.TlsOptions | null): net.Server {
  const server = (tlsOptions ? tls.createServer(tlsOptions) : net.createServer()) as Listener;
  server[kPending] = new Set();
  server.on(tlsOptions ? 'secureConnection' : 'connection', onConnection);
  // A TLS handshake that fails or times out is only reported: the socket is ours to drop.
  if (tlsOptions) server.on('tlsClientError', dropOnTlsError);
  return server;
}

function dropOnTlsError(_error: Error, socket: tls.TLSSocket): void {
  socket.destroy();
}

/** Drops the connections still sending their request head (the server is closing). */
export function closePendingConnections(server: net.Server): void {
  for (const socket of (server as Listener)[kPending] ?? []) socket.destroy();
}

function onConnection(this: Listener, socket: PendingSocket): void {
  this[kPending].add(socket);
  socket[kPending] = { listener: this, held: null };
  socket.setNoDelay(true);
  socket.on('data', onHeadData);
  socket.on('error', onHeadError);
  socket.once('close', onHeadClose);
}

function onHeadData(this: PendingSocket, chunk: Buffer): void {
  const state = this[kPending]!;
  const held = state.held;
  const data = held ? Buffer.concat([held, chunk]) : chunk;
  // The end of the head can straddle reads: look from just before what was held.
  const end = data.indexOf('\r\n\r\n', held ? Math.max(0, held.length - 3) : 0);
  if (end === -1 || end > MAX_HEAD) {
    if (data.length <= MAX_HEAD) return void (state.held = Buffer.from(data));
    return answer(this, 431, 'Request header fields too large');
  }
  const head = parseRequestHead(data, end, this);
  if (!('method' in head)) return answer(this, head.status, head.message);
  if (!isUpgrade(head)) return answerPlain(this, head);
  release(this);
  // Bytes after the head (the client's first frames) go with it; reading waits for the WebSocket.
  this.pause();
  state.listener.emit('upgrade', head, this, data.subarray(end + 4));
}

/** A plain request on a WebSocket-only port, or a WebSocket handshake missing Connection/Upgrade. */
function answerPlain(socket: PendingSocket, head: RequestHead): void {
  const check = head.headers['sec-websocket-key'] === undefined ? null : checkRequest(head);
  if (check && !check.ok) return answer(socket, check.status, check.message, check.headers);
  // The connection closes after the answer: a body that follows is never read.
  answer(socket, 426, 'Upgrade Required', { Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' });
}

function answer(socket: PendingSocket, status: number, message: string, headers?: Record<string, string>): void {
  release(socket);
  socket.on('error', onHeadError);
  socket.end(buildErrorResponse(status, message, headers), () => socket.destroy());
}

/** The socket is no longer this listener's to read: an upgrade, or answered. */
function release(socket: PendingSocket): void {
  socket.removeListener('data', onHeadData);
  socket.removeListener('error', onHeadError);
  socket.removeListener('close', onHeadClose);
  socket[kPending]?.listener[kPending].delete(socket);
  socket[kPending] = undefined;
}

function onHeadError(this: net.Socket): void {
  this.destroy();
}

function onHeadClose(this: PendingSocket): void {
  release(this);
}
