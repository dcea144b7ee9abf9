/**
 * The glue between a socket and the protocol `Connection`: moves bytes both ways, batches every
 * frame written in one tick into one write, runs the close timers, and reports to the WebSocket.
 * Socket listeners are shared functions (the socket finds its transport through a symbol), so an
 * idle connection costs no closures.
 */
import type { Duplex } from 'node:stream';
import { Connection, type ConnectionEvents, type ConnectionOptions, type Frame, type Side, type WriteCallback } from '../protocol/connection.js';
import { CloseCode } from '../protocol/constants.js';
import type { ProtocolError } from '../protocol/errors.js';
import { resolvePolicies, type Policies } from './policies.js';
import { RateLimiter } from './rate-limit.js';

export interface TransportOwner {
  onTransportMessage(data: Buffer, isBinary: boolean): void;
  onTransportFragment(data: Buffer, isBinary: boolean, fin: boolean): void;
  onTransportPing(data: Buffer): void;
  onTransportPong(data: Buffer): void;
  onTransportError(error: Error): void;
  onTransportDrain(): void;
  /** A message over the rate limit was discarded (policy 'drop'). */
  onTransportRateLimited(size: number): void;
  onTransportClosing(): void;
  onTransportClose(code: number, reason: Buffer, wasClean: boolean): void;
}

export interface TransportOptions extends ConnectionOptions {
  side: Side;
  /** How long to wait for the peer's side of the close handshake, and for TCP to close after it. */
  closeTimeout?: number;
  policies?: Policies;
}

const NO_POLICIES = resolvePolicies({});

const kTransport = Symbol('rfc6455.transport');
type BoundSocket = Duplex & { [kTransport]: Transport };

export class Transport implements ConnectionEvents {
  readonly connection: Connection;
  // The batch of frames written since the last flush: whole parts, and a run still growing.
  private batching = false;
  private receiving = false;
  private parts: Buffer[] | null = null;
  private runBuffer: ArrayBufferLike | null = null;
  private runStart = 0;
  private runLength = 0;
  private callbacks: WriteCallback[] | null = null;
  /** Bytes batched and not yet handed to the socket. */
  queuedBytes = 0;
  private closeTimer: NodeJS.Timeout | null = null;
  private readonly closeTimeout: number;
  readonly policies: Policies;
  private readonly limiter: RateLimiter | null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private awaitingPong = false;
  private idleTimer: NodeJS.Timeout | null = null;
  /** A message went either way since the idle check last looked. */
  active = true;
  private idleStrikes = 0;
  private terminateReason = '';

  constructor(
    readonly socket: Duplex,
    readonly owner: TransportOwner,
    options: TransportOptions,
  ) {
    this.connection = new Connection(options.side, this, options);
    this.closeTimeout = options.closeTimeout ?? 30_000;
    this.policies = options.policies ?? NO_POLICIES;
    this.limiter = this.policies.rateLimit ? new RateLimiter(this.policies.rateLimit) : null;
    (socket as BoundSocket)[kTransport] = this;
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    socket.on('close', onSocketClose);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('drain', onSocketDrain);
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
    if (this.socket.destroyed) return;
    if (head) this.socket.unshift(head);
    this.socket.on('data', onSocketData);
    const { heartbeat, idleTimeout } = this.policies;
    if (heartbeat) this.heartbeatTimer = setTimeout(heartbeatTick, heartbeat.interval, this);
    if (idleTimeout) this.idleTimer = setInterval(idleTick, idleTimeout / 2, this);
  }

  // ConnectionEvents

  write(data: Frame, callback?: WriteCallback): void {
    if (!this.socket.writable) {
      if (callback) process.nextTick(callback, new Error('The connection is closed'));
      return;
    }
    // Frames written while a received chunk is handled leave when it is done; others at the end
    // of the tick. Either way, all of them in one write.
    if (!this.batching) {
      this.batching = true;
      if (!this.receiving) process.nextTick(flushTransport, this);
    }
    if (Array.isArray(data)) {
      this.append(data[0]);
      this.append(data[1]);
    } else {
      this.append(data);
    }
    if (callback) (this.callbacks ??= []).push(callback);
  }

  /** Adds bytes to the batch, extending the last run when they sit right after it in memory. */
  private append(bytes: Uint8Array): void {
    const length = bytes.length;
    this.queuedBytes += length;
    if (bytes.buffer === this.runBuffer && bytes.byteOffset === this.runStart + this.runLength) {
      this.runLength += length;
      return;
    }
    this.closeRun();
    this.runBuffer = bytes.buffer;
    this.runStart = bytes.byteOffset;
    this.runLength = length;
  }

  private closeRun(): void {
    if (this.runBuffer === null) return;
    (this.parts ??= []).push(Buffer.from(this.runBuffer, this.runStart, this.runLength));
    this.runBuffer = null;
  }

  /** Sends everything batched, in one write (one buffer when it is contiguous, else a writev). */
  flush(): void {
    if (!this.batching) return;
    this.batching = false;
    this.closeRun();
    const parts = this.parts!;
    const callbacks = this.callbacks;
    this.parts = null;
    this.callbacks = null;
    this.queuedBytes = 0;
    const socket = this.socket;
    if (!socket.writable) return;
    const done = callbacks === null ? undefined : callbacks.length === 1 ? callbacks[0] : (error?: Error | null) => {
      for (const callback of callbacks) callback(error);
    };
    if (parts.length === 1) return void socket.write(parts[0], done);
    socket.cork();
    const last = parts.length - 1;
    for (let i = 0; i < last; i++) socket.write(parts[i]);
    socket.write(parts[last], done);
    socket.uncork();
  }

  /** Handles a chunk from the peer, then sends what the application answered while it ran. */
  receive(chunk: Buffer): void {
    this.receiving = true;
    try {
      this.connection.receive(chunk);
    } finally {
      this.receiving = false;
      this.flush();
    }
  }

  message(data: Buffer, isBinary: boolean): void {
    this.active = true;
    const stats = this.policies.stats;
    if (stats) {
      stats.messagesIn++;
      stats.bytesIn += data.length;
    }
    if (this.limiter && !this.limiter.allow(data.length)) {
      if (this.limiter.options.policy === 'drop') this.owner.onTransportRateLimited(data.length);
      else this.close(CloseCode.PolicyViolation, 'Rate limit exceeded');
      return;
    }
    this.owner.onTransportMessage(data, isBinary);
  }

  fragment(data: Buffer, isBinary: boolean, fin: boolean): void {
    this.owner.onTransportFragment(data, isBinary, fin);
  }

  ping(data: Buffer): void {
    this.owner.onTransportPing(data);
  }

  pong(data: Buffer): void {
    if (this.awaitingPong) {
      this.awaitingPong = false;
      clearTimeout(this.heartbeatTimer!);
      this.heartbeatTimer = setTimeout(heartbeatTick, this.policies.heartbeat!.interval, this);
    }
    this.owner.onTransportPong(data);
  }

  closed(): void {
    this.owner.onTransportClosing();
    // The server closes TCP first (§7.1.1); the client gives it closeTimeout to do so.
    if (this.connection.side === 'server') this.end();
    this.armCloseTimer();
  }

  failed(error: ProtocolError): void {
    this.owner.onTransportClosing();
    this.owner.onTransportError(error);
    this.end();
    this.armCloseTimer();
  }

  /** Half-closes TCP after what is batched, the close frame included. */
  private end(): void {
    this.flush();
    this.socket.end();
  }

  /** The application starts the close handshake. */
  close(code?: number, reason?: string | Uint8Array): void {
    const connection = this.connection;
    if (connection.closeSent) return;
    connection.close(code, reason);
    this.owner.onTransportClosing();
    this.armCloseTimer();
  }

  /** Destroys the socket at once; `reason` goes with the 1006 the application sees. */
  terminate(reason = ''): void {
    this.terminateReason = reason;
    this.socket.destroy();
  }

  /** Sent a ping and still no pong, or time for the next ping. */
  onHeartbeat(): void {
    const heartbeat = this.policies.heartbeat!;
    if (this.awaitingPong) return this.terminate(`No pong within ${heartbeat.timeout} ms (heartbeat)`);
    this.awaitingPong = true;
    this.connection.ping();
    this.heartbeatTimer = setTimeout(heartbeatTick, heartbeat.timeout, this);
  }

  /** Two idle checks in a row without a message: close. */
  onIdleCheck(): void {
    if (this.active) {
      this.active = false;
      this.idleStrikes = 0;
    } else if (++this.idleStrikes >= 2) {
      this.close(CloseCode.GoingAway, 'Idle timeout');
    }
  }

  private armCloseTimer(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(destroySocket, this.closeTimeout, this.socket);
    this.closeTimer.unref();
  }

  onSocketClose(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.connection.destroy();
    this.socket.removeListener('data', onSocketData);
    const c = this.connection;
    // The code is the peer's close frame's, else the one we failed with, else 1006 (§7.1.5).
    const code = c.closeReceived ? c.closeCode : c.error ? c.error.code : CloseCode.Abnormal;
    const reason = c.closeReceived ? c.closeReason : Buffer.from(c.error ? c.error.message : this.terminateReason);
    this.owner.onTransportClose(code, reason, c.closeReceived && c.closeSent && !c.error);
  }
}

function startReading(transport: Transport, head: Buffer): void {
  transport.beginReading(head);
}

function flushTransport(transport: Transport): void {
  transport.flush();
}

function destroySocket(socket: Duplex): void {
  socket.destroy();
}

function onSocketData(this: BoundSocket, chunk: Buffer): void {
  this[kTransport].receive(chunk);
}

function heartbeatTick(transport: Transport): void {
  transport.onHeartbeat();
}

function idleTick(transport: Transport): void {
  transport.onIdleCheck();
}

function onSocketDrain(this: BoundSocket): void {
  this[kTransport].owner.onTransportDrain();
}

function onSocketEnd(this: BoundSocket): void {
  this.end();
}

function onSocketClose(this: BoundSocket): void {
  this[kTransport].onSocketClose();
}

function onSocketError(this: BoundSocket): void {
  // A reset or a write after the peer left: 'close' follows and reports 1006; nothing to throw.
  this.destroy();
}
