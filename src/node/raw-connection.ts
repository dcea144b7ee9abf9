/**
 * A connection the standalone server accepted straight off its listening handle (raw-accept.ts),
 * with no net.Socket: it owns the client's libuv handle — its reads until the WebSocket takes them,
 * its writes before the wire exists, the shutdown, the close and 'close'. To the server's handshake
 * code it stands where a socket would (`on`/`once`, `write`, `end`, `destroy`, `readable`,
 * `writable`, `destroyed`), so one handshake path serves both. A real net.Socket over the same
 * handle is made only when the application asks for one (`req.socket`, `ws._socket`); from then on
 * teardown goes through it, so the two never disagree about whether the handle is open.
 */
import { Socket } from 'node:net';
import { fastPath, type FastPath } from './fast-path.js';
import { wireOnHandle, type Handle, type HandleOwner, type RawWire } from './raw-wire.js';
import type { WireSink } from './wire.js';

/** libuv's end of file. */
const UV_EOF = -4095;

export interface ClientHandle extends Handle {
  readStart(): number;
  shutdown(req: object): number;
  close(callback: () => void): void;
  getpeername(out: Record<string, unknown>): number;
  setNoDelay(enable: boolean): number;
  [kConnection]?: RawConnection;
}

const kConnection = Symbol('rfc6455.rawConnection');
/** What a connection may hold past its head while the handshake hooks run. */
const EARLY_LIMIT = 64 * 1024;
/** What one early read is counted as at least: a peer sending a byte at a time holds objects, not bytes. */
const EARLY_CHUNK_COST = 1024;

/** What reads the request head: called with each chunk, and with null at the peer's FIN. */
export type HeadReader = (connection: RawConnection, chunk: Buffer | null) => void;

interface ShutdownReq {
  handle: ClientHandle;
  oncomplete: (this: ShutdownReq, status: number) => void;
  connection: RawConnection;
}

/** Unused but for the sink the wire reports to until the WebSocket has it (writes before the upgrade). */
const noSink: WireSink = { wireData() {}, wireEnd() {}, wireClose() {}, wireDrain() {} };

type Listener = (...args: any[]) => void;
/** One listener of the few the handshake code adds (and removes before the upgrade). */
interface Entry {
  event: string | symbol;
  listener: Listener;
  once: boolean;
}

/**
 * Not an EventEmitter: its listener table (a dictionary-mode object) would outlive the handshake
 * on every idle connection. The handshake's few listeners live in an array that is gone after it.
 */
export class RawConnection implements HandleOwner {
  private table: Entry[] | null = null;
  /** Whoever reads this connection's bytes until the wire does (the head reader, then the hooks' wait). */
  reader: HeadReader | null;
  /** What arrived of the request head so far (the head reader's). */
  held: Buffer | null = null;
  /** The handshake timer while the head is read. */
  timer: NodeJS.Timeout | null = null;
  /** Bytes past the head that came before the wire took over reading. */
  private early: Buffer[] | null = null;
  private wire: RawWire | null = null;
  private lazy: Socket | null = null;
  private closing = false;
  private gone = false;
  private ended = false;
  private shutDown = false;
  private eof = false;
  private peer: Record<string, unknown> | null = null;
  private earlyBytes = 0;

  constructor(
    readonly handle: ClientHandle,
    reader: HeadReader,
  ) {
    this.reader = reader;
    handle[kConnection] = this;
    handle.setNoDelay(true);
    handle.onread = onHeadRead;
    handle.reading = true;
    if (handle.readStart() !== 0) this.destroy();
  }

  /** The net.Socket over this handle, made on first use (what `req.socket` and `ws._socket` give). */
  get socket(): Socket {
    if (this.lazy !== null) return this.lazy;
    if (this.closing || this.gone) {
      const gone = new Socket();
      gone.destroy();
      return (this.lazy = gone);
    }
    const handle = this.handle;
    const { onread, reading } = handle;
    // manualStart: node must not start reading into its own buffer; the reads stay ours.
    const socket = new Socket({ handle, manualStart: true } as ConstructorParameters<typeof Socket>[0]);
    handle.onread = onread;
    handle.reading = reading;
    this.lazy = socket;
    socket.on('end', onSocketEnd);
    socket.on('close', onSocketClose);
    socket.on('error', onSocketError);
    (socket as SocketWithConnection)[kConnection] = this;
    return socket;
  }

  get remoteAddress(): string | undefined {
    return this.peerName().address as string | undefined;
  }

  get remotePort(): number | undefined {
    return this.peerName().port as number | undefined;
  }

  private peerName(): Record<string, unknown> {
    if (this.peer !== null) return this.peer;
    const out: Record<string, unknown> = {};
    if (this.gone || this.handle.getpeername(out) !== 0) return out;
    return (this.peer = out);
  }

  /** False once the peer's FIN came (what the handshake checks after its hooks). */
  get readable(): boolean {
    return this.lazy !== null ? this.lazy.readable : !this.eof && !this.closing && !this.gone;
  }

  get destroyed(): boolean {
    return this.lazy !== null ? this.lazy.destroyed : this.closing || this.gone;
  }

  get writable(): boolean {
    return this.lazy !== null ? this.lazy.writable : !this.closing && !this.gone && !this.ended;
  }

  /** @internal A read before the wire took over. */
  onHeadRead(chunk: Buffer | null): void {
    if (this.reader !== null) return this.reader(this, chunk);
    if (chunk !== null) {
      (this.early ??= []).push(chunk);
      // A client that floods while the hooks run waits in TCP, as it would behind a paused socket.
      if ((this.earlyBytes += Math.max(chunk.length, EARLY_CHUNK_COST)) >= EARLY_LIMIT) this.stopReading();
      return;
    }
    // The FIN while hooks run, as a net.Socket would report it.
    this.eof = true;
    if (this.lazy !== null) pushEnd(this.lazy);
    else this.onEnded();
  }

  /** @internal The peer's FIN: the handshake code's 'end' listeners, or the Transport. */
  onEnded(): void {
    this.emit('end');
    const sink = this.wire?.sink;
    if (sink !== undefined && sink !== noSink) sink.wireEnd();
  }

  private stopReading(): void {
    const handle = this.handle;
    if (!handle.reading) return;
    handle.reading = false;
    handle.readStop();
  }

  /** The wire that writes, and once `sink` is the Transport, reads. */
  wireFor(sink: WireSink = noSink): RawWire {
    const wire = (this.wire ??= wireOnHandle(this, this.handle, sink));
    if (sink !== noSink) wire.sink = sink;
    return wire;
  }

  write(data: string | Buffer, done?: (error?: Error | null) => void): boolean {
    const buffer = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    this.wireFor().write([buffer], done);
    return true;
  }

  end(data?: string | Buffer | (() => void), done?: () => void): this {
    if (typeof data === 'function') {
      done = data;
      data = undefined;
    }
    if (data !== undefined && data.length > 0) this.write(data);
    if (this.lazy !== null) {
      this.lazy.end(done);
      return this;
    }
    if (this.ended || this.closing || this.gone) {
      if (done) process.nextTick(done);
      return this;
    }
    this.ended = true;
    const path = fastPath() as FastPath;
    const req = new path.ShutdownWrap() as ShutdownReq;
    req.handle = this.handle;
    req.connection = this;
    // libuv shuts down after the writes already queued on the handle.
    req.oncomplete = done ? (status) => { this.onShutdown(status); done!(); } : onShutdownComplete;
    if (this.handle.shutdown(req) !== 0) this.destroy();
    return this;
  }

  /** @internal */
  onShutdown(status: number): void {
    this.shutDown = true;
    // Both directions done (or the shutdown failed): nothing more can happen on the connection.
    if (status < 0 || this.eof) this.destroy();
  }

  destroy(): this {
    if (this.lazy !== null) {
      this.lazy.destroy();
      return this;
    }
    if (this.closing || this.gone) return this;
    this.closing = true;
    this.reader = null;
    this.held = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.early = null;
    this.handle.close(() => this.onClosed());
    return this;
  }

  /** @internal The handle is closed: 'close' for the handshake code, wireClose for the Transport. */
  onClosed(): void {
    if (this.gone) return;
    this.gone = true;
    this.closing = false;
    this.reader = null;
    this.emit('close', false);
    const sink = this.wire?.sink;
    if (sink !== undefined && sink !== noSink) sink.wireClose();
  }

  // HandleOwner

  onEof(): void {
    this.eof = true;
    if (this.lazy !== null) return pushEnd(this.lazy);
    this.onEnded();
    // Our side was already shut down: both directions are done.
    if (this.shutDown) this.destroy();
  }

  handOver(): Buffer[] | null {
    this.reader = null;
    this.stopReading();
    const early = this.early;
    this.early = null;
    return early;
  }

  // What code written for a net.Socket calls on the object it was given as the socket.

  on(event: string | symbol, listener: Listener): this {
    (this.table ??= []).push({ event, listener, once: false });
    return this;
  }

  addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }

  once(event: string | symbol, listener: Listener): this {
    (this.table ??= []).push({ event, listener, once: true });
    return this;
  }

  removeListener(event: string | symbol, listener: Listener): this {
    const list = this.table;
    if (list === null) return this;
    const at = list.findIndex((entry) => entry.event === event && entry.listener === listener);
    if (at !== -1) list.splice(at, 1);
    if (list.length === 0) this.table = null;
    return this;
  }

  off(event: string | symbol, listener: Listener): this {
    return this.removeListener(event, listener);
  }

  listenerCount(event: string | symbol): number {
    return this.table?.filter((entry) => entry.event === event).length ?? 0;
  }

  emit(event: string | symbol, ...args: unknown[]): boolean {
    const list = this.table;
    if (list === null) return false;
    let any = false;
    for (const entry of list.slice()) {
      if (entry.event !== event) continue;
      if (entry.once) this.removeListener(event, entry.listener);
      any = true;
      entry.listener.apply(this, args);
    }
    return any;
  }

  setNoDelay(): this {
    return this;
  }

  pause(): this {
    return this;
  }

  resume(): this {
    return this;
  }
}

type SocketWithConnection = Socket & { [kConnection]?: RawConnection };

function onHeadRead(this: Handle, arrayBuffer?: ArrayBuffer): undefined {
  const handle = this as ClientHandle;
  const connection = handle[kConnection];
  if (connection === undefined) return;
  const path = fastPath() as FastPath;
  const nread = path.state[path.kReadBytesOrError];
  if (nread > 0) {
    connection.onHeadRead(Buffer.from(arrayBuffer!, path.state[path.kArrayBufferOffset], nread));
  } else if (nread === UV_EOF) {
    handle.reading = false;
    handle.readStop();
    connection.onHeadRead(null);
  } else if (nread < 0) {
    connection.destroy();
  }
  return undefined;
}

function onShutdownComplete(this: ShutdownReq, status: number): void {
  this.connection.onShutdown(status);
}

/** The FIN reported to a net.Socket that does not read its handle itself, as node does on EOF. */
function pushEnd(socket: Socket): void {
  socket.push(null);
  socket.read(0);
}

function onSocketEnd(this: SocketWithConnection): void {
  this[kConnection]!.onEnded();
}

function onSocketClose(this: SocketWithConnection): void {
  this[kConnection]!.onClosed();
}

function onSocketError(this: Socket): void {
  this.destroy();
}
