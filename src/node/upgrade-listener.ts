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
import { acceptRaw, closeRawPending, rawAcceptEnabled } from './raw-accept.js';
import { isUpgrade, MAX_HEAD, parseRequestHead, type HeadSocket, type RequestHead } from './request-head.js';

const kPending = Symbol('rfc6455.pending');
type Listener = net.Server & { [kPending]: Set<net.Socket> };
/** A connection still sending its head: its listener, and what arrived of the head so far. */
type PendingSocket = net.Socket & { [kPending]?: { listener: Listener; held: Buffer | null } };

/**
 * `rawAccept`: on plain TCP, where the fast path runs, connections are accepted without a
 * net.Socket (raw-accept.ts), under a handshake timer of `rawAccept.handshakeTimeout` ms.
 */
export function createUpgradeListener(tlsOptions: tls.TlsOptions | null, rawAccept?: { handshakeTimeout: number }): net.Server {
  const server = (tlsOptions ? tls.createServer(tlsOptions) : net.createServer()) as Listener;
  server[kPending] = new Set();
  if (!tlsOptions && rawAccept && rawAcceptEnabled()) server.once('listening', () => acceptRaw(server, rawAccept.handshakeTimeout));
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
  closeRawPending(server);
}

function onConnection(this: Listener, socket: PendingSocket): void {
  this[kPending].add(socket);
  socket[kPending] = { listener: this, held: null };
  socket.setNoDelay(true);
  socket.on('data', onHeadData);
  socket.on('error', onHeadError);
  socket.once('close', onHeadClose);
}

/** What a read did to a head: more is needed (`held`), an answer is owed, or the head is complete. */
export type HeadScan =
  | { held: Buffer }
  | { status: number; message: string; headers?: Record<string, string> }
  | { head: RequestHead; rest: Buffer };

/** Adds `chunk` to what was `held` of a head; the connection is `socket` (or what stands for it). */
export function scanHead(held: Buffer | null, chunk: Buffer, socket: HeadSocket): HeadScan {
  const data = held ? Buffer.concat([held, chunk]) : chunk;
  // The end of the head can straddle reads: look from just before what was held.
  const end = data.indexOf('\r\n\r\n', held ? Math.max(0, held.length - 3) : 0);
  if (end === -1 || end > MAX_HEAD) {
    if (data.length <= MAX_HEAD) return { held: Buffer.from(data) };
    return { status: 431, message: 'Request header fields too large' };
  }
  const head = parseRequestHead(data, end, socket);
  if (!('method' in head)) return head;
  if (!isUpgrade(head)) return answerPlain(head);
  // Bytes after the head (the client's first frames) go with it.
  return { head, rest: data.subarray(end + 4) };
}

function onHeadData(this: PendingSocket, chunk: Buffer): void {
  const state = this[kPending]!;
  const scan = scanHead(state.held, chunk, this);
  if ('held' in scan) return void (state.held = scan.held);
  if ('status' in scan) return answer(this, scan.status, scan.message, scan.headers);
  release(this);
  // Reading waits for the WebSocket.
  this.pause();
  state.listener.emit('upgrade', scan.head, this, scan.rest);
}

/** A plain request on a WebSocket-only port, or a WebSocket handshake missing Connection/Upgrade. */
function answerPlain(head: RequestHead): { status: number; message: string; headers?: Record<string, string> } {
  const check = head.headers['sec-websocket-key'] === undefined ? null : checkRequest(head);
  if (check && !check.ok) return check;
  // The connection closes after the answer: a body that follows is never read.
  return { status: 426, message: 'Upgrade Required', headers: { Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' } };
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
