/**
 * The glue between a socket and the protocol `Connection`. In: bytes go to the connection, and the
 * socket is paused whenever it cannot take more (a message inflating, the application paused), so
 * TCP backpressure reaches the peer. Out: the connection's queue is taken in one write per tick,
 * and only while the socket is under its high-water mark; past it, everything waits in the
 * connection's queue, where `bufferedAmount` counts it. Also: the per-message policies (activity,
 * stats, rate limit), the heartbeat, the idle and close timers, and the report to the WebSocket.
 * The bytes move through a `Wire` (wire.ts): a stream's events or, on the fast path, a raw TCP
 * handle; nothing here knows which.
 */
import type { Duplex } from 'node:stream';
import { Connection, type ConnectionEvents, type ConnectionOptions, type Side, type WriteCallback } from '../protocol/connection.js';
import { CloseCode } from '../protocol/constants.js';
import type { ProtocolError } from '../protocol/errors.js';
import { resolvePolicies, type Policies } from './policies.js';
import { RateLimiter } from './rate-limit.js';
import { StreamWire } from './stream-wire.js';
import type { Wire, WireSink } from './wire.js';
import { takeOverSocket } from './raw-wire.js';
import { RawConnection } from './raw-connection.js';

export interface TransportOwner {
  onTransportMessage(data: Buffer, isBinary: boolean): void;
  onTransportFragment(data: Buffer, isBinary: boolean, fin: boolean): void;
  onTransportPing(data: Buffer): void;
  onTransportPong(data: Buffer): void;
  onTransportError(error: Error): void;
  /** What was queued went out after `send()` returned false. */
  onTransportDrain(): void;
  /** A message over the rate limit was discarded (policy 'drop'). */
  onTransportRateLimited(size: number): void;
  onTransportClosing(): void;
  onTransportClose(code: number, reason: Buffer, wasClean: boolean): void;
}

/** What the transport itself needs; what the protocol needs is `ConnectionOptions`. */
export interface TransportOptions {
  /** How long to wait for the peer's side of the close handshake, and for TCP to close after it. */
  closeTimeout?: number;
  policies?: Policies;
  /** False: stay on the stream path even where the raw fast path could run. */
  fastPath?: boolean;
}

export class Transport implements ConnectionEvents, WireSink {
  readonly connection: Connection;
  readonly policies: Policies;
  /** A message went either way since the idle check last looked. */
  active = true;
  private flushPending = false;
  private receiving = false;
  /** The socket is paused because the connection cannot take more. */
  private readPaused = false;
  /** `send()` returned false: 'drain' is owed once the queue is under the mark again. */
  private drainOwed = false;
  /** The TCP connection is to be half-closed once the queue is empty (after our close frame). */
  private ending = false;
  /** The socket closed while a message was inflating: the report waits for it. */
  private closePending = false;
  private reported = false;
  private readonly closeTimeout: number;
  private readonly limiter: RateLimiter | null;
  private closeTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private awaitingPong = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private idleStrikes = 0;
  /** A streamed message whose first fragment was over the rate limit: the rest goes too. */
  private droppingFragments = false;
  private inFragments = false;
  /** Why we ended the connection, for the 1006 the application sees if no close frame came back. */
  private endReason = '';
  /** Where the bytes go: the socket's stream, until `start` may move it onto the fast path. */
  private wire: Wire;
  private readonly fastPath: boolean;

  constructor(
    readonly socket: Duplex,
    readonly owner: TransportOwner,
    side: Side,
    connectionOptions: ConnectionOptions,
    options: TransportOptions = {},
  ) {
    this.connection = new Connection(side, this, connectionOptions);
    this.closeTimeout = options.closeTimeout ?? 30_000;
    this.policies = options.policies ?? resolvePolicies({}, null, side);
    this.limiter = this.policies.rateLimit ? new RateLimiter(this.policies.rateLimit) : null;
    this.fastPath = options.fastPath !== false;
    // A connection accepted without a net.Socket has only its handle: the raw wire from the start.
    this.wire = socket instanceof RawConnection ? socket.wireFor(this) : new StreamWire(socket, this);
  }

  /** The socket to show the application (`ws._socket`): a net.Socket, made now if there was none. */
  get publicSocket(): Duplex {
    const socket = this.socket;
    return socket instanceof RawConnection ? socket.socket : socket;
  }

  /**
   * Starts reading, once the handshake is done and the application has the connection. Bytes that
   * came with the handshake (`head`) would be emitted on the next tick, before code awaiting the
   * connection (a promise, for await) has run, so they wait a turn of the event loop. Without them
   * reading starts now: the next bytes come from a later turn anyway (a setImmediate for every
   * connection cost ~6% of handshakes/s).
   */
  start(head?: Buffer): void {
    if (head && head.length > 0) setImmediate(startReading, this, head);
    else this.beginReading();
  }

  /** @internal */
  beginReading(head?: Buffer): void {
    // The application may have ended the connection before reading began.
    if (this.wire.destroyed || this.reported) return;
    // Once the application has had the socket (its 'connection' listener ran), a plain TCP socket
    // may move onto the raw handle: one shared read buffer, writes without the stream layer.
    if (this.fastPath && !(this.socket instanceof RawConnection)) this.wire = takeOverSocket(this.socket, this) ?? this.wire;
    this.wire.start(head);
    // It flows from here, unless the application paused (or the head filled what we may hold).
    if (!this.readPaused && !this.reported) this.wire.resume();
    const { heartbeat, idleTimeout } = this.policies;
    if (this.connection.closeSent) return;
    if (heartbeat) this.heartbeatTimer = setTimeout(heartbeatTick, heartbeat.interval, this).unref();
    if (idleTimeout) this.idleTimer = setInterval(idleTick, idleTimeout / 2, this).unref();
  }

  /** Everything waiting to go out: the connection's queue and what the socket has not yet sent. */
  get bufferedAmount(): number {
    return this.connection.bufferedAmount + this.wire.writableLength;
  }

  /**
   * Whether `size` more bytes may be queued under `maxBufferedAmount`. A peer is slow only if
   * something is already waiting for it: on an empty queue a message is taken whatever its size.
   */
  admits(size: number): boolean {
    const buffered = this.bufferedAmount;
    return buffered === 0 || buffered + size <= this.policies.maxBufferedAmount;
  }

  /**
   * Whether the socket can take more; when not, 'drain' follows. What is queued is written now,
   * so that the socket sees it is over its mark.
   */
  belowHighWaterMark(): boolean {
    if (this.bufferedAmount < this.wire.writableHighWaterMark) return true;
    this.drainOwed = true;
    this.flush();
    return false;
  }

  // ConnectionEvents

  output(): void {
    // Frames queued while a received chunk is handled leave when it is done; others at the end
    // of the tick. Either way, all of them in one write.
    if (this.flushPending) return;
    this.flushPending = true;
    if (!this.receiving) process.nextTick(flushTransport, this);
  }

  /** Writes what the connection has ready, in one write, unless the socket is over its mark. */
  flush(): void {
    this.flushPending = false;
    const wire = this.wire;
    const connection = this.connection;
    if (!wire.writable) {
      // Gone: what is queued will never be written; its callbacks learn it now.
      const batch = connection.takeOutput();
      if (batch?.callbacks) process.nextTick(callAll, batch.callbacks, new Error('The connection is closed'));
      return;
    }
    if (wire.writableLength >= wire.writableHighWaterMark) {
      // 'drain' brings us back; meanwhile the queue waits in the connection, counted.
      connection.congested = true;
      return;
    }
    const batch = connection.takeOutput();
    if (batch !== null) {
      const { parts, callbacks } = batch;
      const done = callbacks === null ? undefined : callbacks.length === 1 ? callbacks[0] : (error?: Error | null) => callAll(callbacks, error);
      if (parts.length === 0) {
        if (done) process.nextTick(done);
      } else {
        wire.write(parts, done);
      }
    }
    connection.congested = wire.writableLength >= wire.writableHighWaterMark;
    if (this.ending && connection.bufferedAmount === 0) {
      this.ending = false;
      wire.end();
    }
    // Under the mark with no 'drain' to come from the socket (it never went over): say so here.
    if (this.drainOwed && this.bufferedAmount < wire.writableHighWaterMark) {
      this.drainOwed = false;
      process.nextTick(emitDrain, this);
    }
  }

  onDrain(): void {
    this.connection.congested = false;
    this.flush();
  }

  /** Handles a chunk from the peer, then sends what the application answered while it ran. */
  receive(chunk: Buffer, transient = false): void {
    this.receiving = true;
    let more: boolean;
    try {
      more = this.connection.receive(chunk, transient);
    } finally {
      this.receiving = false;
      if (this.flushPending) this.flush();
    }
    if (!more && !this.readPaused) {
      this.readPaused = true;
      this.wire.pause();
    }
  }

  resumeReading(): void {
    if (this.closePending) {
      if (!this.connection.busy) this.report();
      return;
    }
    if (this.readPaused && this.connection.accepting) {
      this.readPaused = false;
      this.wire.resume();
    }
  }

  /** The application stops taking messages: parsing stops after the current frame, then reading. */
  pause(): void {
    this.connection.pause();
    if (!this.readPaused) {
      this.readPaused = true;
      this.wire.pause();
    }
  }

  resume(): void {
    this.connection.resume();
    this.resumeReading();
  }

  get isPaused(): boolean {
    return this.readPaused && !this.connection.accepting;
  }

  message(data: Buffer, isBinary: boolean): void {
    if (this.inbound(data.length, 1, false)) this.owner.onTransportMessage(data, isBinary);
  }

  fragment(data: Buffer, isBinary: boolean, fin: boolean): void {
    const first = !this.inFragments;
    this.inFragments = !fin;
    if (this.droppingFragments) {
      if (fin) this.droppingFragments = false;
      return;
    }
    if (this.inbound(data.length, first ? 1 : 0, !first)) this.owner.onTransportFragment(data, isBinary, fin);
    else if (first && !fin && !this.connection.closeSent) this.droppingFragments = true;
  }

  /**
   * The one policy hook for what comes in, whole messages and streamed fragments alike: activity,
   * stats, rate limit. False: not delivered (dropped, or the connection is closing for it). A
   * fragment after the first cannot be dropped alone (the application has the start of its
   * message), so going over the limit there closes.
   */
  private inbound(size: number, messages: number, midMessage: boolean): boolean {
    this.active = true;
    const stats = this.policies.stats;
    if (stats) {
      stats.messagesIn += messages;
      stats.bytesIn += size;
    }
    return this.withinRateLimit(size, messages, midMessage);
  }

  private withinRateLimit(size: number, messages: number, midMessage: boolean): boolean {
    if (this.limiter === null || this.limiter.allow(size, messages)) return true;
    if (this.limiter.options.policy === 'drop' && !midMessage) this.owner.onTransportRateLimited(size);
    else this.close(CloseCode.PolicyViolation, 'Rate limit exceeded');
    return false;
  }

  admitPing(data: Buffer): boolean {
    // Control frames count against the rate limit too: a ping flood costs a pong each.
    return this.withinRateLimit(data.length, 1, false);
  }

  ping(data: Buffer): void {
    this.owner.onTransportPing(data);
  }

  pong(data: Buffer): void {
    if (!this.withinRateLimit(data.length, 1, false)) return;
    if (this.awaitingPong) {
      this.awaitingPong = false;
      clearTimeout(this.heartbeatTimer!);
      this.heartbeatTimer = setTimeout(heartbeatTick, this.policies.heartbeat!.interval, this).unref();
    }
    this.owner.onTransportPong(data);
  }

  closed(): void {
    this.closing();
    // The server closes TCP first (§7.1.1); the client gives it closeTimeout to do so.
    if (this.connection.side === 'server') this.end();
  }

  failed(error: ProtocolError): void {
    this.closing();
    this.owner.onTransportError(error);
    this.end();
  }

  /** Half-closes TCP once what is queued, the close frame included, has gone to the socket. */
  private end(): void {
    this.ending = true;
    this.flush();
  }

  /** The application (or a policy) starts the close handshake; `reason` is reported with a 1006 if it never completes. */
  close(code?: number, reason?: string | Uint8Array, endReason = 'Close timeout'): void {
    const connection = this.connection;
    if (connection.closeSent) return;
    connection.close(code, reason);
    this.endReason = endReason;
    this.closing();
  }

  /** The close handshake started (either side): timers of an open connection stop, the close timer runs. */
  private closing(): void {
    this.owner.onTransportClosing();
    this.stopTimers();
    if (this.closeTimer === null && !this.reported) this.closeTimer = setTimeout(closeTimedOut, this.closeTimeout, this).unref();
  }

  /** Destroys the socket at once; `reason` goes with the 1006 the application sees. */
  terminate(reason = ''): void {
    if (!this.reported) this.endReason = reason;
    this.wire.destroy();
  }

  /** Sent a ping and still no pong, or time for the next ping. */
  onHeartbeat(): void {
    const heartbeat = this.policies.heartbeat!;
    if (this.awaitingPong) return this.terminate(`No pong within ${heartbeat.timeout} ms (heartbeat)`);
    this.awaitingPong = true;
    this.connection.ping();
    this.heartbeatTimer = setTimeout(heartbeatTick, heartbeat.timeout, this).unref();
  }

  /** Two idle checks in a row without a message: close. */
  onIdleCheck(): void {
    if (this.active) {
      this.active = false;
      this.idleStrikes = 0;
    } else if (++this.idleStrikes >= 2) {
      this.close(CloseCode.GoingAway, 'Idle timeout', 'Idle timeout: no close frame came back');
    }
  }

  private stopTimers(): void {
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.heartbeatTimer = this.idleTimer = null;
  }

  // WireSink

  wireData(chunk: Buffer, transient: boolean): void {
    this.receive(chunk, transient);
  }

  wireDrain(): void {
    this.onDrain();
  }

  wireEnd(): void {
    this.onSocketEnd();
  }

  wireClose(): void {
    this.onSocketClose();
  }

  onSocketEnd(): void {
    // The peer half-closed: what it sent is parsed (a message still inflating paused the socket,
    // so this waited for it). Our side ends once our queue is out, within closeTimeout.
    this.closing();
    this.end();
  }

  onSocketClose(): void {
    this.stopTimers();
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    // A message that arrived before the close is still inflating: it is delivered first.
    if (this.connection.busy) {
      this.closePending = true;
      return;
    }
    this.report();
  }

  /** The end: frees the connection (failing what it still queued) and tells the WebSocket how it went. */
  private report(): void {
    if (this.reported) return;
    this.reported = true;
    this.closePending = false;
    const c = this.connection;
    c.destroy(new Error('The connection closed before the message was sent'));
    this.wire.stop();
    // The code is the peer's close frame's, else the one we failed with, else 1006 (§7.1.5).
    const code = c.closeReceived ? c.closeCode : c.error ? c.error.code : CloseCode.Abnormal;
    const reason = c.closeReceived ? c.closeReason : Buffer.from(c.error ? c.error.message : this.endReason);
    this.owner.onTransportClose(code, reason, c.closeReceived && c.closeSent && !c.error);
  }

  /** closeTimeout passed in the close handshake. */
  onCloseTimeout(): void {
    this.closeTimer = null;
    this.terminate(this.endReason || 'Close timeout');
  }
}

function startReading(transport: Transport, head: Buffer): void {
  transport.beginReading(head);
}

function flushTransport(transport: Transport): void {
  transport.flush();
}

function emitDrain(transport: Transport): void {
  transport.owner.onTransportDrain();
}

function callAll(callbacks: WriteCallback[], error?: Error | null): void {
  for (const callback of callbacks) callback(error);
}

function closeTimedOut(transport: Transport): void {
  transport.onCloseTimeout();
}

function heartbeatTick(transport: Transport): void {
  transport.onHeartbeat();
}

function idleTick(transport: Transport): void {
  transport.onIdleCheck();
}
