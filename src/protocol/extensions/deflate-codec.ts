/**
 * Compresses and decompresses whole messages (or the fragments of one) for permessage-deflate
 * (RFC 7692 §7.2) with node:zlib. zlib contexts are made on first use and dropped after each
 * message when context takeover is off, so idle connections hold no zlib memory.
 */
import * as zlib from 'node:zlib';
import { CloseCode } from '../constants.js';
import { ProtocolError } from '../errors.js';
import { zlibLimiter } from './limiter.js';
import type { DeflateOptions, DeflateParams } from './permessage-deflate.js';

/** The empty stored block that ends a sync flush; senders strip it, receivers put it back (§7.2.1). */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export type CodecCallback = (error: ProtocolError | null, data: Buffer) => void;

export class DeflateCodec {
  readonly threshold: number;
  private deflater: zlib.DeflateRaw | null = null;
  private inflater: zlib.InflateRaw | null = null;
  private closed = false;

  constructor(
    private readonly params: DeflateParams,
    private readonly options: DeflateOptions,
    private readonly maxPayload: number,
  ) {
    this.threshold = options.threshold ?? 1024;
  }

  /** Compresses one message, or one fragment of it (`fin` false: keep the sync-flush trailer). */
  compress(data: Uint8Array, fin: boolean, callback: CodecCallback): void {
    this.start(this.compressions, () => {
      const deflater = (this.deflater ??= zlib.createDeflateRaw({
        windowBits: this.params.deflateWindowBits,
        level: this.options.level,
        memLevel: this.options.memLevel,
      }));
      const chunks: Buffer[] = [];
      let length = 0;
      let failed = false;
      const onData = (chunk: Buffer) => {
        chunks.push(chunk);
        length += chunk.length;
      };
      // zlib reports a failure (e.g. out of memory) as an 'error' event: unheard, it would crash.
      const onError = (error: Error) => {
        failed = true;
        deflater.off('data', onData);
        this.dropDeflater();
        this.end(this.compressions, callback, new ProtocolError(CloseCode.InternalError, `Compression failed: ${error.message}`), EMPTY);
      };
      deflater.on('data', onData);
      deflater.once('error', onError);
      deflater.write(data);
      deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        if (failed) return;
        deflater.off('data', onData);
        deflater.off('error', onError);
        let out = Buffer.concat(chunks, length);
        if (fin) {
          out = out.subarray(0, out.length - TRAILER.length);
          if (this.params.deflateNoContextTakeover) this.dropDeflater();
        }
        this.end(this.compressions, callback, null, out);
      });
    }, callback);
  }

  /** Decompresses a whole message; a result above maxPayload fails with 1009 as soon as it is seen. */
  decompress(data: Buffer, callback: CodecCallback): void {
    this.start(this.decompressions, () => {
      const inflater = (this.inflater ??= zlib.createInflateRaw({ windowBits: this.params.inflateWindowBits }));
      const chunks: Buffer[] = [];
      let length = 0;
      let settled = false;
      const settle = (error: ProtocolError | null, result: Buffer) => {
        if (settled) return;
        settled = true;
        inflater.off('data', onData);
        inflater.off('error', onError);
        if (error || this.params.inflateNoContextTakeover) this.dropInflater();
        this.end(this.decompressions, callback, error, result);
      };
      const onData = (chunk: Buffer) => {
        length += chunk.length;
        // A zip bomb: stop before inflating the rest.
        if (length > this.maxPayload) settle(new ProtocolError(CloseCode.MessageTooBig, 'Message too big once decompressed'), EMPTY);
        else chunks.push(chunk);
      };
      const onError = (error: Error) => {
        settle(new ProtocolError(CloseCode.InvalidPayload, `Invalid compressed data: ${error.message}`), EMPTY);
      };
      inflater.on('data', onData);
      inflater.on('error', onError);
      inflater.write(data);
      inflater.write(TRAILER);
      inflater.flush(() => settle(null, Buffer.concat(chunks, length)));
    }, callback);
  }

  /** Frees the zlib contexts (once work in flight is done); later calls complete with nothing. */
  close(): void {
    this.closed = true;
    if (this.inflight === 0) this.dropContexts();
  }

  private inflight = 0;
  // One operation at a time per direction: a zlib stream's output cannot be told apart otherwise.
  private readonly compressions: Array<() => void> = [];
  private readonly decompressions: Array<() => void> = [];

  private start(queue: Array<() => void>, job: () => void, callback: CodecCallback): void {
    this.inflight++;
    const run = () =>
      zlibLimiter.run(() => {
        if (this.closed) return this.end(queue, callback, null, EMPTY);
        job();
      });
    queue.push(run);
    if (queue.length === 1) run();
  }

  private end(queue: Array<() => void>, callback: CodecCallback, error: ProtocolError | null, data: Buffer): void {
    zlibLimiter.done();
    queue.shift();
    if (--this.inflight === 0 && this.closed) this.dropContexts();
    // Start the next job before the callback, which may queue more.
    if (queue.length > 0) queue[0]();
    callback(error, data);
  }

  private dropContexts(): void {
    this.dropDeflater();
    this.dropInflater();
  }

  private dropDeflater(): void {
    const deflater = this.deflater;
    this.deflater = null;
    if (deflater) closeQuietly(deflater);
  }

  private dropInflater(): void {
    const inflater = this.inflater;
    this.inflater = null;
    if (inflater) closeQuietly(inflater);
  }
}

const EMPTY = Buffer.alloc(0);

/** Closing mid-stream may still report an error: whatever it is, it is already dealt with. */
function closeQuietly(stream: zlib.DeflateRaw | zlib.InflateRaw): void {
  stream.on('error', ignore);
  stream.close();
}

function ignore(): void {}

