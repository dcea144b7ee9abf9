/**
 * What only the permessage-deflate tests need beside the raw peers of test/helpers/raw.ts: a
 * tracker of the zlib streams the library creates, and compressible text.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type * as zlib from 'node:zlib';

/** Every zlib stream created through node:zlib's create* functions while tracking is on. */
export interface ZlibTracker {
  deflaters: zlib.DeflateRaw[];
  inflaters: zlib.InflateRaw[];
  /** The options each was made with, in the same order. */
  deflaterOptions: zlib.ZlibOptions[];
  inflaterOptions: zlib.ZlibOptions[];
  /** Bytes every inflater has produced, counted as they come out. */
  inflatedBytes: number;
  /** The largest process.memoryUsage().arrayBuffers seen as inflated data came out. */
  peakArrayBuffers: number;
  /** Streams whose native zlib handle is still open. */
  open(): number;
  stop(): void;
}

/**
 * Wraps zlib.createDeflateRaw/createInflateRaw for the ES module namespace the library imports
 * (module.syncBuiltinESMExports), so tests see every stream it makes without touching src/.
 */
export function trackZlib(): ZlibTracker {
  const cjs = createRequire(import.meta.url)('node:zlib') as typeof zlib;
  const createDeflateRaw = cjs.createDeflateRaw;
  const createInflateRaw = cjs.createInflateRaw;
  const tracker: ZlibTracker = {
    deflaters: [],
    inflaters: [],
    deflaterOptions: [],
    inflaterOptions: [],
    inflatedBytes: 0,
    peakArrayBuffers: 0,
    open: () =>
      [...tracker.deflaters, ...tracker.inflaters].filter((stream) => (stream as unknown as { _handle: unknown })._handle != null).length,
    stop() {
      replace(cjs, 'createDeflateRaw', createDeflateRaw);
      replace(cjs, 'createInflateRaw', createInflateRaw);
      syncBuiltinESMExports();
    },
  };
  replace(cjs, 'createDeflateRaw', (options?: zlib.ZlibOptions) => {
    const stream = createDeflateRaw(options);
    tracker.deflaters.push(stream);
    tracker.deflaterOptions.push({ ...options });
    return stream;
  });
  replace(cjs, 'createInflateRaw', (options?: zlib.ZlibOptions) => {
    const stream = createInflateRaw(options);
    tracker.inflaters.push(stream);
    tracker.inflaterOptions.push({ ...options });
    // Count what comes out by wrapping push, so the stream's flow is not changed by a listener.
    const push = stream.push;
    stream.push = function (chunk: Buffer | null, encoding?: BufferEncoding) {
      if (chunk) {
        tracker.inflatedBytes += chunk.length;
        tracker.peakArrayBuffers = Math.max(tracker.peakArrayBuffers, process.memoryUsage().arrayBuffers);
      }
      return push.call(this, chunk, encoding);
    };
    return stream;
  });
  syncBuiltinESMExports();
  return tracker;
}

/** zlib's exports are read-only but configurable. */
function replace<K extends 'createDeflateRaw' | 'createInflateRaw'>(target: typeof zlib, key: K, value: (typeof zlib)[K]): void {
  Object.defineProperty(target, key, { value, writable: false, enumerable: true, configurable: true });
}

/** Compressible text of `size` bytes or a little more (words picked by a small PRNG from `seed`). */
export function text(size: number, seed = 0): string {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa', 'λάμδα', '€', 'mu', 'nu', 'xi',
    'omicron', 'pi', 'rho', 'sigma', 'tau', 'upsilon', 'phi', 'chi', 'psi', 'omega', '42', '1024', 'ωμέγα'];
  const parts: string[] = [];
  let length = 0;
  let state = (seed * 2654435761 + 1) >>> 0;
  while (length < size) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const word = words[(state >>> 16) % words.length];
    parts.push(word);
    length += Buffer.byteLength(word) + 1;
  }
  return parts.join(' ') + ' ';
}
