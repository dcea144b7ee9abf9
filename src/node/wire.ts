/**
 * What a Transport needs of the bytes under it, and nothing more: bytes in (paused and resumed
 * for flow control), bytes out (with a completion per write and a count of what is pending), an
 * end and a teardown. The Connection, flow control, the outgoing queue, policies and TLS sit above
 * it and never learn which implementation runs: a stream (`stream-wire.ts`: any Duplex — a TCP or
 * TLS socket, an HTTP/2 stream, a test pipe) or a raw TCP handle (`raw-wire.ts`, the fast path).
 */
import type { WriteCallback } from '../protocol/connection.js';

/** What a wire reports to (the Transport). */
export interface WireSink {
  /**
   * Bytes from the peer. `transient`: the bytes are reused once this returns (one read buffer
   * shared by many connections), so whatever must outlive the call is copied.
   */
  wireData(chunk: Buffer, transient: boolean): void;
  /** The peer half-closed: no more bytes will come. */
  wireEnd(): void;
  /** The connection is gone (after an end both ways, a reset or `destroy()`); reported once. */
  wireClose(): void;
  /** What was pending went under the high-water mark after a write that left it above. */
  wireDrain(): void;
}

export interface Wire {
  /** Starts reading (still paused: `resume()` lets bytes flow); `head` is handed over first. */
  start(head: Buffer | undefined): void;
  pause(): void;
  resume(): void;
  /** Writes `parts` in order, as one write where possible; `done` once they are out (or failed). */
  write(parts: readonly Buffer[], done?: WriteCallback): void;
  /** Bytes written and not yet taken by the kernel. */
  readonly writableLength: number;
  readonly writableHighWaterMark: number;
  /** False once ended or gone: nothing more can be written. */
  readonly writable: boolean;
  readonly destroyed: boolean;
  /** Half-closes once what was written is out. */
  end(): void;
  /** Tears the connection down now; `wireClose` follows. */
  destroy(): void;
  /** Stops reporting bytes (the Transport has reported the close). */
  stop(): void;
}
