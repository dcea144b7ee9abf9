/**
 * The body of a server's refusal (a 4xx/5xx instead of 101), kept for the HandshakeError: servers
 * say why there ("Too many connections", a login page). Bounded, since nothing obliges a server
 * to end it: reading stops at `limit` bytes, and the handshake timer still bounds the wait.
 */
import type { IncomingMessage } from 'node:http';

export const REFUSAL_BODY_LIMIT = 64 * 1024;

/** Resolves with what the response carried, cut at `limit` bytes; never rejects. */
export function readRefusalBody(res: IncomingMessage, limit = REFUSAL_BODY_LIMIT): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      res.removeListener('data', onData);
      // Whatever else comes is not kept, but is read: a paused response would hold the socket.
      res.resume();
      resolve(Buffer.concat(chunks, Math.min(size, limit)));
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) done();
    };
    res.on('data', onData);
    res.once('end', done);
    // Destroyed (the handshake failed meanwhile: timeout, abort) or broken: what came is enough.
    res.once('close', done);
    res.once('error', done);
  });
}
