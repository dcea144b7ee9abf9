/**
 * An Http2Stream as the transport's Duplex (RFC 8441 §5). It is one already: `end()` sends
 * END_STREAM, which is the clean end after the close handshake; what differs is `destroy()`, which
 * node:http2 turns into RST_STREAM NO_ERROR. An abnormal end of a WebSocket must be a reset with
 * CANCEL (§5, RFC 9113 §8.7), so the stream's `destroy` is replaced by one that resets it so first.
 */
import { constants, type Http2Session, type Http2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';

const { NGHTTP2_CANCEL } = constants;

const overHttp2 = new WeakSet<object>();

/** Whether this WebSocket runs over an HTTP/2 stream (RFC 8441) rather than a connection of its own. */
export function isOverHttp2(ws: object): boolean {
  return overHttp2.has(ws);
}

/** @internal Notes that `ws` took an HTTP/2 stream. */
export function markOverHttp2(ws: object): void {
  overHttp2.add(ws);
}

/** Marks a stream as carrying a WebSocket; returns it, typed as the Duplex the transport takes. */
export function asWebSocketStream(stream: Http2Stream): Duplex {
  // A shared function on the instance, not a closure per stream.
  (stream as Http2Stream & { destroy: typeof destroyWithCancel }).destroy = destroyWithCancel;
  return stream;
}

function destroyWithCancel(this: Http2Stream, error?: Error): Http2Stream {
  // close() sends the RST_STREAM (and records the code); destroy then finds the stream closed.
  if (!this.closed && !this.destroyed) this.close(NGHTTP2_CANCEL);
  return Object.getPrototypeOf(this).destroy.call(this, error) as Http2Stream;
}

/**
 * HTTP/2 flow-control windows (RFC 9113 §6.9) for WebSockets: the 64 KiB defaults make a stream,
 * and the whole connection, wait a round trip for every 64 KiB, so 16 KiB messages on ten
 * streams ran at a third of HTTP/1.1's rate. A stream's window is also what a paused WebSocket
 * may have buffered for it, so it stays moderate; the connection's is shared by all of them.
 */
export const STREAM_WINDOW = 256 * 1024;
const CONNECTION_WINDOW = 4 * 1024 * 1024;

export function widenConnectionWindow(session: Http2Session): void {
  const widen = () => session.setLocalWindowSize(CONNECTION_WINDOW);
  if (session.connecting) session.once('connect', widen);
  else widen();
}
