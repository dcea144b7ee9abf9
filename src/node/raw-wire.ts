/**
 * The fast path: a wire that drives a TCP or TLS socket's handle directly. Reads land in one
 * buffer shared by every raw connection of the process (parsed in place; what must outlive the
 * read is copied once, by the parser); writes go to the handle without the Writable machinery.
 * The connection's owner does everything else — its address, `end()`, `destroy()`, 'close': a
 * net.Socket (so an application that holds `req.socket` still sees a working socket), or, for a
 * connection the standalone server accepted without one, its RawConnection (raw-connection.ts).
 *
 * Used only where fast-path.ts says the handle has the shape it expects; see there for what this
 * relies on.
 */
import { Socket } from 'node:net';
import { getDefaultHighWaterMark, type Duplex } from 'node:stream';
import type { WriteCallback } from '../protocol/connection.js';
import { fastPath, isRawHandle, type FastPath } from './fast-path.js';
import type { Wire, WireSink } from './wire.js';

/** libuv's end of file. */
const UV_EOF = -4095;
/** The shared read buffer: as large as one read of a net.Socket. */
const READ_SIZE = 64 * 1024;
let shared: Buffer | null = null;

/**
 * A connection with no net.Socket under it (raw-connection.ts): it owns the handle's end,
 * teardown and 'close', and gives the wire what it read while the handshake was decided.
 */
export interface HandleOwner {
  readonly destroyed: boolean;
  readonly writable: boolean;
  destroy(): void;
  end(): void;
  /** The peer's FIN arrived on the wire's read. */
  onEof(): void;
  /** Stops the owner's own reads; returns the bytes they got past the request head. */
  handOver(): Buffer[] | null;
}

export interface Handle {
  onread: (this: Handle, arrayBuffer?: ArrayBuffer) => unknown;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
  writeBuffer(req: object | null, buffer: Buffer): number | WriteReq;
  writev(req: object | null, chunks: readonly Buffer[], allBuffers: boolean): number | WriteReq;
  reading: boolean;
  [kRaw]?: RawWire;
}
interface WriteReq {
  handle?: Handle;
  oncomplete: (this: WriteReq, status: number) => void;
  async?: boolean;
  bytes: number;
  buffer: readonly Buffer[] | null;
  callback: WriteCallback | undefined;
  wire: RawWire;
  writeStatus?: number | null;
}

const kRaw = Symbol('rfc6455.rawWire');
const kWire = Symbol('rfc6455.wire');
type BoundSocket = Socket & { [kWire]: RawWire; _handle?: unknown };

/**
 * The raw wire for `socket`, moving it off its stream, when the fast path runs here and the
 * socket is a TCP or TLS socket nobody else reads; null leaves it on the stream.
 */
export function takeOverSocket(socket: Duplex, sink: WireSink): Wire | null {
  const path = fastPath();
  if (path === null || !(socket instanceof Socket)) return null;
  const handle = (socket as BoundSocket)._handle as Handle | undefined;
  // Sockets with data buffered, being written or read by someone else stay.
  if (!isRawHandle(handle)) return null;
  if (socket.readableLength > 0 || socket.listenerCount('data') > 0 || socket.destroyed) return null;
  if ((socket as { connecting?: boolean }).connecting) return null;
  return new RawWire(socket, handle!, path, sink);
}

/** A raw wire for a connection accepted without a net.Socket (its handle already checked). */
export function wireOnHandle(owner: HandleOwner, handle: Handle, sink: WireSink): RawWire {
  return new RawWire(owner, handle, fastPath()!, sink);
}

export class RawWire implements Wire {
  /** The net.Socket over the handle, or null: then `owner` is the handle's owner. */
  readonly socket: Socket | null;
  /** Bytes handed to the handle whose write has not completed. */
  private pending = 0;
  /** A write left `pending` at or above the mark: 'drain' is owed once it is under. */
  private over = false;
  private reading = false;
  private started = false;
  private stopped = false;
  /**
   * What the socket's own Writable still holds (a TLS socket's 101 and early sends: TLS writes
   * complete later) must leave first: until it is empty, writes go through the stream behind it.
   */
  private behindStream: boolean;
  /** TLSWrap: one write under way at a time; `waiting` (null when none is) holds the next ones. */
  private readonly oneAtATime: boolean;
  private waiting: Buffer[] | null = null;
  private waitingDone: WriteCallback[] = [];
  /** The socket's mark, read once: the getter walks the Writable's state on every call. */
  readonly writableHighWaterMark: number;

  constructor(
    readonly owner: Socket | HandleOwner,
    private readonly handle: Handle,
    private readonly path: FastPath,
    /** Who hears of bytes, drains and (with no socket) nothing else; replaced once, at the upgrade. */
    public sink: WireSink,
  ) {
    handle[kRaw] = this;
    this.oneAtATime = handle.constructor.name === 'TLSWrap';
    if (!(owner instanceof Socket)) {
      this.socket = null;
      this.writableHighWaterMark = getDefaultHighWaterMark(false);
      this.behindStream = false;
      return;
    }
    const socket = owner;
    this.socket = socket;
    (socket as BoundSocket)[kWire] = this;
    this.writableHighWaterMark = socket.writableHighWaterMark;
    this.behindStream = socket.writableLength > 0;
    // The StreamWire's listeners on the socket report 'end', 'close' and errors as before; ours
    // are only the reads and the writes.
    socket.pause();
    // A paused net.Socket still reads into its buffer: its handle stops until we resume it.
    if (handle.reading) {
      handle.reading = false;
      handle.readStop();
    }
  }

  start(head: Buffer | undefined): void {
    this.started = true;
    const handle = this.handle;
    handle.onread = onRawRead;
    const early = this.socket === null ? (this.owner as HandleOwner).handOver() : null;
    handle.useUserBuffer((shared ??= Buffer.allocUnsafeSlow(READ_SIZE)));
    if (head && head.length > 0) this.sink.wireData(head, false);
    // Bytes that came while hooks ran, after the head, and before this read took over.
    if (early !== null) for (const chunk of early) if (!this.stopped && !this.owner.destroyed) this.sink.wireData(chunk, false);
  }

  pause(): void {
    if (!this.reading) return;
    this.reading = false;
    this.handle.reading = false;
    this.handle.readStop();
  }

  resume(): void {
    if (this.reading || !this.started || this.stopped || this.owner.destroyed) return;
    this.reading = true;
    this.handle.reading = true;
    const error = this.handle.readStart();
    if (error) this.owner.destroy();
  }

  /** @internal A read completed on the handle: bytes in the shared buffer, or EOF, or an error. */
  onRead(): void {
    const nread = this.path.state[this.path.kReadBytesOrError];
    if (nread > 0) {
      if (!this.stopped) this.sink.wireData(shared!.subarray(0, nread), true);
      return;
    }
    if (nread === 0) return;
    this.pause();
    if (nread !== UV_EOF) return void this.owner.destroy();
    const socket = this.socket;
    if (socket === null) return (this.owner as HandleOwner).onEof();
    // The peer's FIN: ended the way net.Socket ends itself on EOF, so its 'end' (our StreamWire
    // listener) and, once our side has ended too, 'close' follow as on the stream path.
    socket.push(null);
    socket.read(0);
  }

  write(parts: readonly Buffer[], done?: WriteCallback): void {
    const socket = this.socket;
    if (this.owner.destroyed) {
      if (done) process.nextTick(done, new Error('The connection is closed'));
      return;
    }
    if (this.behindStream && socket !== null) {
      if (socket.writableLength > 0) return writeThroughStream(socket, parts, done);
      this.behindStream = false;
    }
    if (this.waiting !== null) return this.wait(parts, done);
    this.send(parts, done);
  }

  private send(parts: readonly Buffer[], done: WriteCallback | undefined): void {
    const handle = this.handle;
    const path = this.path;
    const state = path.state;
    let req: WriteReq;
    let error: number;
    if (path.handleMakesRequests) {
      // Node 24: the handle makes the request when the write could not complete at once.
      const result = parts.length === 1 ? handle.writeBuffer(null, parts[0]) : handle.writev(null, parts, true);
      if (typeof result === 'number') return this.written(result, done);
      error = state[path.kLastWriteErr];
      if (error !== 0) return this.written(error, done);
      req = result;
    } else {
      req = new path.WriteWrap() as WriteReq;
      req.handle = handle;
      req.async = false;
      error = (parts.length === 1 ? handle.writeBuffer(req, parts[0]) : handle.writev(req, parts, true)) as number;
      if (error !== 0 || state[path.kLastWriteWasAsync] === 0) return this.written(error, done);
    }
    // Under way: the parts stay alive until the kernel has them.
    const bytes = state[path.kBytesWritten];
    req.wire = this;
    req.bytes = bytes;
    req.buffer = parts;
    req.callback = done;
    req.oncomplete = onRawWriteComplete;
    req.async = true;
    // TLSWrap takes one write at a time (a second is a fatal assertion): the next ones wait.
    if (this.oneAtATime) this.waiting = [];
    this.pending += bytes;
    if (this.pending >= this.writableHighWaterMark) this.over = true;
    // Node 24 records a completion that came before `oncomplete` was set.
    const status = req.writeStatus;
    if (typeof status === 'number') {
      req.writeStatus = null;
      req.oncomplete(status);
    }
  }

  /** Holds a write while a TLS write is under way; pending counts it from now. */
  private wait(parts: readonly Buffer[], done: WriteCallback | undefined): void {
    for (const part of parts) {
      this.waiting!.push(part);
      this.pending += part.length;
    }
    if (done) this.waitingDone.push(done);
    if (this.pending >= this.writableHighWaterMark) this.over = true;
  }

  /** The TLS write under way completed: what waited goes as one write. */
  private sendWaiting(status: number): void {
    const parts = this.waiting!;
    const callbacks = this.waitingDone;
    this.waiting = null;
    this.waitingDone = [];
    for (const part of parts) this.pending -= part.length;
    if (status < 0 || this.owner.destroyed) {
      for (const done of callbacks) done(new Error(`write failed (${status})`));
      return;
    }
    if (parts.length === 0) return;
    this.send(parts, callbacks.length === 0 ? undefined : (error) => { for (const done of callbacks) done(error); });
  }

  /** A write that completed (or failed) inside the call. */
  private written(error: number, done: WriteCallback | undefined): void {
    if (error !== 0) {
      const failure = new Error(`write failed (${error})`);
      if (done) process.nextTick(done, failure);
      this.owner.destroy();
      return;
    }
    if (done) process.nextTick(done);
  }

  /** @internal */
  onWriteComplete(req: WriteReq, status: number): void {
    this.pending -= req.bytes;
    req.buffer = null;
    const done = req.callback;
    if (status < 0) {
      if (done) done(new Error(`write failed (${status})`));
      if (this.waiting !== null) this.sendWaiting(status);
      this.owner.destroy();
      return;
    }
    if (done) done(null);
    if (this.waiting !== null) this.sendWaiting(status);
    if (this.over && this.pending < this.writableHighWaterMark) {
      this.over = false;
      if (!this.owner.destroyed) this.sink.wireDrain();
    }
  }

  /** What our writes left pending, and what the socket's Writable held when it was taken over. */
  get writableLength(): number {
    return this.behindStream ? this.pending + this.socket!.writableLength : this.pending;
  }

  get writable(): boolean {
    return this.owner.writable;
  }

  get destroyed(): boolean {
    return this.owner.destroyed;
  }

  end(): void {
    // net.Socket shuts down after what it has queued; libuv after what we queued on the handle.
    this.owner.end();
  }

  destroy(): void {
    this.owner.destroy();
  }

  stop(): void {
    this.stopped = true;
    this.pause();
  }
}

function writeThroughStream(socket: Socket, parts: readonly Buffer[], done: WriteCallback | undefined): void {
  // The StreamWire's 'drain' listener on the socket reports the drain on this path.
  socket.cork();
  const last = parts.length - 1;
  for (let i = 0; i < last; i++) socket.write(parts[i]);
  socket.write(parts[last], done ? (error) => done(error ?? null) : undefined);
  socket.uncork();
}

function onRawRead(this: Handle): unknown {
  const wire = this[kRaw];
  if (wire) wire.onRead();
  return undefined;
}

function onRawWriteComplete(this: WriteReq, status: number): void {
  this.wire.onWriteComplete(this, status);
}
