/**
 * The standalone server accepting plain TCP connections from its listening handle itself, when
 * the fast path runs: each client handle is read, answered and upgraded by a RawConnection, with
 * no net.Socket (its Readable and Writable states, its listeners) made for it — a connection costs
 * what the WebSocket needs and no more. It relies on node:net's listening handle calling its
 * `onconnection(status, clientHandle)`, which is not public API: it is used only where it has the
 * shape node 20–24 give it, and any connection it cannot take (an error status, a handle of
 * another shape) goes to node's own `onconnection`, so it becomes a net.Socket as before.
 *
 * `RFC6455_RAW_ACCEPT=0` in the environment keeps every connection on node's accept.
 */
import type * as net from 'node:net';
import { buildErrorResponse } from '../protocol/handshake.js';
import { fastPath } from './fast-path.js';
import { RawConnection, type ClientHandle } from './raw-connection.js';
import { scanHead } from './upgrade-listener.js';

type OnConnection = (this: unknown, status: number, clientHandle?: unknown) => void;
interface ListenHandle {
  onconnection: OnConnection;
}

const kRawPending = Symbol('rfc6455.rawPending');
const kRawServer = Symbol('rfc6455.rawServer');
type RawListener = net.Server & { [kRawPending]?: Set<RawConnection>; _handle?: unknown };
type Pending = RawConnection & { [kRawServer]?: RawListener };

const CLIENT_METHODS = ['readStart', 'readStop', 'useUserBuffer', 'writeBuffer', 'writev', 'close', 'shutdown', 'getpeername', 'setNoDelay'] as const;
const checkedPrototypes = new WeakSet<object>();

/** Whether a server created now may accept its connections without net.Socket. */
export function rawAcceptEnabled(): boolean {
  const setting = process.env.RFC6455_RAW_ACCEPT;
  if (setting === '0' || setting === 'false' || setting === 'off') return false;
  return fastPath() !== null;
}

/**
 * Takes over `server`'s accepts (call once it listens). Returns false, leaving node's accept in
 * place, when the listening handle does not have the shape looked for.
 */
export function acceptRaw(server: net.Server, handshakeTimeout: number): boolean {
  const handle = (server as RawListener)._handle as ListenHandle | null | undefined;
  if (typeof handle !== 'object' || handle === null || typeof handle.onconnection !== 'function') return false;
  if ((handle as { constructor?: { name?: string } }).constructor?.name !== 'TCP') return false;
  const nodeAccept = handle.onconnection;
  const pending = ((server as RawListener)[kRawPending] = new Set());
  handle.onconnection = function onRawConnection(this: unknown, status: number, clientHandle?: unknown): void {
    if (status !== 0 || !isClientHandle(clientHandle)) return nodeAccept.call(this, status, clientHandle);
    const connection = new RawConnection(clientHandle, readHead) as Pending;
    if (connection.destroyed) return;
    connection[kRawServer] = server as RawListener;
    pending.add(connection);
    connection.once('close', onPendingClose);
    connection.timer = setTimeout(dropSlow, handshakeTimeout, connection).unref();
  };
  return true;
}

/** Drops the raw connections still sending their request head (the server is closing). */
export function closeRawPending(server: net.Server): void {
  for (const connection of (server as RawListener)[kRawPending] ?? []) connection.destroy();
}

/**
 * A libuv TCP handle with every method used on it. Not fast-path.ts's isRawHandle: that one wants
 * the `onread` a net.Socket sets, which a fresh handle only has the accessor of, and it caches by
 * prototype, so its answer here would depend on whether some socket had been checked before.
 */
function isClientHandle(handle: unknown): handle is ClientHandle {
  if (typeof handle !== 'object' || handle === null) return false;
  const proto = Object.getPrototypeOf(handle) as object | null;
  if (proto === null) return false;
  if (checkedPrototypes.has(proto)) return true;
  if ((handle as { constructor?: { name?: string } }).constructor?.name !== 'TCP' || !('onread' in handle)) return false;
  for (const name of CLIENT_METHODS) if (typeof (handle as Record<string, unknown>)[name] !== 'function') return false;
  checkedPrototypes.add(proto);
  return true;
}

function readHead(connection: RawConnection, chunk: Buffer | null): void {
  // The peer left before its head was complete.
  if (chunk === null) return void connection.destroy();
  const scan = scanHead(connection.held, chunk, connection);
  if ('held' in scan) return void (connection.held = scan.held);
  release(connection as Pending);
  if ('status' in scan) {
    // Answered, then closed once the answer is out: what the client sends meanwhile is dropped.
    connection.reader = ignore;
    connection.end(buildErrorResponse(scan.status, scan.message, scan.headers), () => connection.destroy());
    return;
  }
  // Reads from here wait for the WebSocket (kept by the connection until its wire takes over).
  connection.reader = null;
  const server = (connection as Pending)[kRawServer]!;
  server.emit('upgrade', scan.head, connection, scan.rest);
}

/** The head is complete (or answered): no longer pending, no longer under the head's timer. */
function release(connection: Pending): void {
  connection.held = null;
  if (connection.timer !== null) clearTimeout(connection.timer);
  connection.timer = null;
  connection.removeListener('close', onPendingClose);
  connection[kRawServer]?.[kRawPending]?.delete(connection);
}

function ignore(): void {}

function onPendingClose(this: Pending): void {
  release(this);
}

function dropSlow(connection: RawConnection): void {
  connection.destroy();
}
