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
 * `send()` returns false once the socket holds more than its high-water mark (16 KiB, Node's
 * default) and 'drain' follows; these options bound what a connection may hold at all.
 */
export interface BackpressureOptions {
  /** The most bytes one connection may have waiting; past it the slow-consumer policy applies (default 16 MiB). */
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

export function resolvePolicies(options: PolicyOptions, stats: ServerStats | null = null): Policies {
  return {
    ...options,
    maxBufferedAmount: options.backpressure?.maxBufferedAmount ?? 16 * 1024 * 1024,
    dropSlowConsumer: options.backpressure?.policy === 'drop',
    stats,
  };
}
