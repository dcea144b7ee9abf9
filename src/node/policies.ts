/**
 * Per-connection policies a server (or a client) applies to each of its connections. One object
 * is shared by all connections of a server; per-connection state lives in the Transport.
 */
import type { RateLimitOptions } from './rate-limit.js';
import type { ServerStats } from './stats.js';

export interface HeartbeatOptions {
  /** Milliseconds between pings. */
  interval: number;
  /** Milliseconds to wait for the pong before the connection is terminated (close 1006). */
  timeout: number;
}

/**
 * `send()` returns false once more than the socket's high-water mark waits to go out, and 'drain'
 * follows; these options bound what a connection may hold at all.
 */
export interface BackpressureOptions {
  /**
   * The most bytes one connection may have waiting (its queue and its socket's buffer); past it the
   * slow-consumer policy applies. A message sent when nothing waits is taken whatever its size.
   * Default: 16 MiB on a server, which must not let one reader that stalled hold its memory;
   * no limit on a client, which sends only what its own application produced (as ws and browsers).
   */
  maxBufferedAmount?: number;
  /** 'close' (default): close with 1013, terminating if the close frame cannot get through. 'drop': discard the message. */
  policy?: 'close' | 'drop';
}

export interface PolicyOptions {
  heartbeat?: HeartbeatOptions;
  /** Close with 1001 after this many milliseconds without a message in either direction. */
  idleTimeout?: number;
  rateLimit?: RateLimitOptions;
  backpressure?: BackpressureOptions;
}

export interface Policies extends PolicyOptions {
  maxBufferedAmount: number;
  dropSlowConsumer: boolean;
  stats: ServerStats | null;
}

export function resolvePolicies(options: PolicyOptions, stats: ServerStats | null, side: 'server' | 'client'): Policies {
  return {
    ...options,
    maxBufferedAmount: options.backpressure?.maxBufferedAmount ?? (side === 'server' ? 16 * 1024 * 1024 : Infinity),
    dropSlowConsumer: options.backpressure?.policy === 'drop',
    stats,
  };
}
