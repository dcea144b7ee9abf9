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

export interface TransportOwner {
  onTransportMessage(data: Buffer, isBinary: boolean): void;
  onTransportFragment(data: Buffer, isBinary: boolean, fin: boolean): void;
  onTransportPing(data: Buffer): void;
  onTransportPong(data: Buffer): void;
  onTransportError(error: Error): void;
  onTransportClosing(): void;
  onTransportClose(code: number, reason: Buffer, wasClean: boolean): void;
}

export interface TransportOptions extends ConnectionOptions {
  side: Side;
  /** How long to wait for the peer's side of the close handshake, and for TCP to close after it. */
  closeTimeout?: number;
}

const kTransport = Symbol('rfc6455.transport');
type BoundSocket = Duplex & { [kTransport]: Transport };

export class Transport implements ConnectionEvents {
  readonly connection: Connection;
  private corked = false;
  private closeTimer: NodeJS.Timeout | null = null;
  private readonly closeTimeout: number;

  constructor(
    readonly socket: Duplex,
    private readonly owner: TransportOwner,
    options: TransportOptions,
  ) {
    this.connection = new Connection(options.side, this, options);
    this.closeTimeout = options.closeTimeout ?? 30_000;
    (socket as BoundSocket)[kTransport] = this;
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    socket.on('close', onSocketClose);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
  }

  /** Starts reading; `head` holds bytes that arrived with the handshake. */
  start(head?: Buffer): void {
    if (head && head.length > 0) this.socket.unshift(head);
    this.socket.on('data', onSocketData);
  }

  // ConnectionEvents

  write(data: Frame, callback?: WriteCallback): void {
    const socket = this.socket;
    if (!socket.writable) {
      if (callback) process.nextTick(callback, new Error('The connection is closed'));
      return;
    }
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(uncork, this);
    }
    if (Array.isArray(data)) {
      socket.write(data[0]);
      socket.write(data[1], callback);
    } else {
      socket.write(data, callback);
    }
  }

  message(data: Buffer, isBinary: boolean): void {
    this.owner.onTransportMessage(data, isBinary);
  }

  fragment(data: Buffer, isBinary: boolean, fin: boolean): void {
    this.owner.onTransportFragment(data, isBinary, fin);
  }

  ping(data: Buffer): void {
    this.owner.onTransportPing(data);
  }

  pong(data: Buffer): void {
    this.owner.onTransportPong(data);
  }

  closed(): void {
    this.owner.onTransportClosing();
    // The server closes TCP first (§7.1.1); the client gives it closeTimeout to do so.
    if (this.connection.side === 'server') this.socket.end();
    this.armCloseTimer();
  }

  failed(error: ProtocolError): void {
    this.owner.onTransportClosing();
    this.owner.onTransportError(error);
    this.socket.end();
    this.armCloseTimer();
  }

  /** The application starts the close handshake. */
  close(code?: number, reason?: string | Uint8Array): void {
    const connection = this.connection;
    if (connection.closeSent) return;
    connection.close(code, reason);
    this.owner.onTransportClosing();
    this.armCloseTimer();
  }

  terminate(): void {
    this.socket.destroy();
  }

  /** Sends everything written since the first write of this tick, in one write. */
  flush(): void {
    this.corked = false;
    this.socket.uncork();
  }

  private armCloseTimer(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(destroySocket, this.closeTimeout, this.socket);
    this.closeTimer.unref();
  }

  onSocketClose(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.connection.destroy();
    this.socket.removeListener('data', onSocketData);
    const c = this.connection;
    // The code is the peer's close frame's, else the one we failed with, else 1006 (§7.1.5).
    const code = c.closeReceived ? c.closeCode : c.error ? c.error.code : CloseCode.Abnormal;
    const reason = c.closeReceived ? c.closeReason : Buffer.from(c.error ? c.error.message : '');
    this.owner.onTransportClose(code, reason, c.closeReceived && c.closeSent && !c.error);
  }
}

function uncork(transport: Transport): void {
  transport.flush();
}

function destroySocket(socket: Duplex): void {
  socket.destroy();
}

function onSocketData(this: BoundSocket, chunk: Buffer): void {
  this[kTransport].connection.receive(chunk);
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
