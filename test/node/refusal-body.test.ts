/** A refused handshake's HandshakeError keeps the server's body (bounded), for showing why. */
import { describe, expect, it } from 'vitest';
import { connect, HandshakeError } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { startHttpServer, startServer } from '../helpers/server.js';

const defer = useCleanup();

describe('HandshakeError.body', () => {
  it("carries our server's refusal message", async () => {
    const { url } = await startServer(defer, { verifyClient: (_info, cb) => cb(false, 403, 'Origin not allowed') });
    const error = (await connect(url).catch((e: unknown) => e)) as HandshakeError;
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.status).toBe(403);
    expect(error.body?.toString()).toBe('Origin not allowed');
  });

  it('keeps the first 64 KiB of a large body, and fails as soon as they are in, though the server never ends it', async () => {
    const { server, port } = await startHttpServer(defer);
    server.on('upgrade', (_req, socket) => {
      // An upgraded socket is no longer the http server's to close.
      defer(() => socket.destroy());
      socket.write('HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n');
      const piece = 'x'.repeat(16 * 1024);
      for (let i = 0; i < 6; i++) socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
      // No last chunk: the body never ends.
    });
    const started = Date.now();
    const error = (await connect(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 5000 }).catch((e: unknown) => e)) as HandshakeError;
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error.status).toBe(503);
    expect(error.headers?.['content-type']).toBe('text/html');
    expect(error.body?.length).toBe(64 * 1024);
    expect(Date.now() - started).toBeLessThan(4000);
  });
});
