import type { Duplex } from 'node:stream';
import type { Wire, WireSink } from './wire.js';

/** The raw wire for `socket`, when the fast path may run on it; null keeps the stream. */
export function takeOverSocket(_socket: Duplex, _sink: WireSink): Wire | null {
  return null;
}
