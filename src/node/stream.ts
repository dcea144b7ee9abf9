/**
 * `createWebSocketStream(ws)`: a WebSocket as a Node Duplex, for `pipeline()` and friends.
 *
 * Reading: each message is a chunk. When the consumer is slow (`push()` returns false) the
 * WebSocket is paused, which stops reading from its socket, so TCP backpressure reaches the peer;
 * `_read()` resumes it.
 * Writing: each chunk is a message, and the next chunk is taken only once `send()`'s callback says
 * this one went to the socket (the WebSocket holds what the socket cannot take yet), so a slow
 * peer slows the writer instead of filling memory.
 * Ending: `end()` starts the close handshake; the WebSocket closing ends the readable side. A
 * WebSocket cannot be half-open, so `allowHalfOpen` is false unless asked for. `destroy()`
 * terminates the WebSocket. An 'error' of the WebSocket destroys the stream with that error.
 */
import { Duplex, type DuplexOptions } from 'node:stream';
import type { WebSocket } from './websocket.js';

type Callback = (error?: Error | null) => void;

export function createWebSocketStream(ws: WebSocket, options: DuplexOptions = {}): Duplex {
  let paused = false;
  let opened = ws.readyState !== ws.CONNECTING;

  const duplex = new Duplex({
    autoDestroy: true,
    emitClose: true,
    allowHalfOpen: false,
    ...options,
    read() {
      if (paused) {
        paused = false;
        ws.resume();
      }
    },
    write(chunk: unknown, _encoding: BufferEncoding, callback: Callback) {
      whenOpen(callback, () => ws.send(chunk as Buffer | string, { binary: typeof chunk !== 'string' }, callback));
    },
    final(callback: Callback) {
      whenOpen(callback, () => {
        if (ws.readyState === ws.CLOSED) return callback();
        // 'finish' once the close handshake is over: both sides have said all they will.
        ws.once('close', () => callback());
        ws.close();
      });
    },
    destroy(error: Error | null, callback: Callback) {
      ws.off('message', onMessage);
      ws.off('error', onError);
      if (ws.readyState === ws.CLOSED) return callback(error);
      // An error while the WebSocket goes down (a message that was inflating, say) is the
      // stream's error too, not lost.
      let late: Error | null = null;
      const onLateError = (cause: Error) => (late ??= cause);
      ws.on('error', onLateError);
      ws.once('close', () => {
        ws.off('error', onLateError);
        callback(error ?? late);
      });
      ws.terminate();
    },
  });

  /** Writes (and the close) wait for the handshake; if it fails, they fail with it. */
  function whenOpen(callback: Callback, run: () => void): void {
    if (opened) return run();
    const onOpen = () => {
      ws.off('close', onClose);
      opened = true;
      run();
    };
    const onClose = () => {
      ws.off('open', onOpen);
      callback(new Error('The WebSocket closed before it opened'));
    };
    ws.once('open', onOpen);
    ws.once('close', onClose);
  }

  function onMessage(data: unknown, isBinary: boolean): void {
    if (duplex.destroyed) return;
    let chunk: unknown;
    try {
      chunk = duplex.readableObjectMode ? (isBinary ? data : String(data)) : asBytes(data);
    } catch (error) {
      // Not thrown into the WebSocket's socket callback: the stream fails instead.
      return void duplex.destroy(error as Error);
    }
    if (!duplex.push(chunk) && !paused) {
      paused = true;
      ws.pause();
    }
  }

  function onError(error: Error): void {
    duplex.destroy(error);
  }

  // Both sides done: nothing more can happen on this stream, so it goes at once (before 'end'
  // listeners run), not on a later tick.
  duplex.on('end', () => {
    if (!duplex.destroyed && duplex.writableFinished) duplex.destroy();
  });
  ws.on('message', onMessage);
  ws.on('error', onError);
  ws.once('open', () => (opened = true));
  ws.once('close', () => {
    ws.off('message', onMessage);
    if (!duplex.destroyed) duplex.push(null);
  });
  return duplex;
}

/** A message as bytes for a byte stream, whatever `binaryType` made of it. */
function asBytes(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  throw new TypeError('createWebSocketStream needs binaryType nodebuffer, arraybuffer or fragments');
}
