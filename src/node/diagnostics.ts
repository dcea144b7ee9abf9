/**
 * `node:diagnostics_channel` events, for tracing and metrics without wrapping the library:
 *
 * - `rfc6455:handshake` — a server accepted (status 101) or refused an upgrade:
 *   `{ accepted, status, url, message, request }` (`message` is the refusal's, '' when accepted).
 * - `rfc6455:open` — a connection opened, on either side: `{ side, url, protocol, extensions, websocket }`.
 * - `rfc6455:close` — a connection closed, as its 'close' event says (a failed client handshake
 *   included, with 1006): `{ side, url, code, reason, wasClean, websocket }`.
 * - `rfc6455:error` — what a connection's 'error' event carries, whether or not anyone listens to
 *   it (a failed client handshake's HandshakeError included): `{ side, url, error, websocket }`.
 *
 * Every publish first asks `hasSubscribers`, and builds its message only then: a process that
 * does not subscribe pays one property read per handshake, open, close or error, and nothing per
 * frame.
 */
import { channel } from 'node:diagnostics_channel';
import type { ServerRequest } from './request-head.js';
import type { Duplex } from 'node:stream';
import type { Side } from '../protocol/connection.js';
import type { WebSocket } from './websocket.js';

export const handshakeChannel = channel('rfc6455:handshake');
export const openChannel = channel('rfc6455:open');
export const closeChannel = channel('rfc6455:close');
export const errorChannel = channel('rfc6455:error');

export interface HandshakeMessage {
  accepted: boolean;
  status: number;
  /** The request target, as `req.url`. */
  url: string;
  message: string;
  request: ServerRequest | undefined;
}

export interface OpenMessage {
  side: Side;
  url: string;
  protocol: string;
  extensions: string;
  websocket: WebSocket;
}

export interface CloseMessage {
  side: Side;
  url: string;
  code: number;
  reason: string;
  wasClean: boolean;
  websocket: WebSocket;
}

export interface ErrorMessage {
  side: Side;
  url: string;
  error: Error;
  websocket: WebSocket;
}

/**
 * A server refuses from places that hold only the socket: the request is remembered for them,
 * and only while someone subscribes (a WeakMap, so a socket that goes takes its entry along).
 */
const upgrading = new WeakMap<Duplex, ServerRequest>();

export function noteUpgrade(socket: Duplex, request: ServerRequest): void {
  if (handshakeChannel.hasSubscribers) upgrading.set(socket, request);
}

export function publishAccepted(request: ServerRequest): void {
  if (!handshakeChannel.hasSubscribers) return;
  const message: HandshakeMessage = { accepted: true, status: 101, url: request.url ?? '', message: '', request };
  handshakeChannel.publish(message);
}

export function publishRefused(socket: Duplex, status: number, reason: string): void {
  if (!handshakeChannel.hasSubscribers) return;
  const request = upgrading.get(socket);
  const message: HandshakeMessage = { accepted: false, status, url: request?.url ?? '', message: reason, request };
  handshakeChannel.publish(message);
}

export function publishOpen(websocket: WebSocket, side: Side): void {
  if (!openChannel.hasSubscribers) return;
  const message: OpenMessage = { side, url: websocket.url, protocol: websocket.protocol, extensions: websocket.extensions, websocket };
  openChannel.publish(message);
}

export function publishClose(websocket: WebSocket, side: Side, code: number, reason: Buffer, wasClean: boolean): void {
  if (!closeChannel.hasSubscribers) return;
  const message: CloseMessage = { side, url: websocket.url, code, reason: reason.toString(), wasClean, websocket };
  closeChannel.publish(message);
}

export function publishError(websocket: WebSocket, side: Side, error: Error): void {
  if (!errorChannel.hasSubscribers) return;
  const message: ErrorMessage = { side, url: websocket.url, error, websocket };
  errorChannel.publish(message);
}
