/**
 * The wire over any Duplex: a net or TLS socket, an HTTP/2 stream, a test pipe. Bytes come from
 * 'data' events; writes are corked into one per batch. Listeners are shared functions (the stream
 * finds its wire through a symbol), so an idle connection costs no closures.
 */
import type { Duplex } from 'node:stream';
import type { WriteCallback } from '../protocol/connection.js';
import type { Wire, WireSink } from './wire.js';

const kWire = Symbol('rfc6455.wire');
type BoundStream = Duplex & { [kWire]: StreamWire };

export class StreamWire implements Wire {
  constructor(
    readonly stream: Duplex,
    private readonly sink: WireSink,
  ) {
    (stream as BoundStream)[kWire] = this;
    if ('setNoDelay' in stream && typeof stream.setNoDelay === 'function') stream.setNoDelay(true);
    stream.on('close', onClose);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('drain', onDrain);
  }

  start(head: Buffer | undefined): void {
    const stream = this.stream;
    // A listener of our own pauses the socket while the handshake is decided; node:http leaves it
    // neither paused nor flowing. 'data' would set it flowing: it waits for resume().
    stream.pause();
    if (head) stream.unshift(head);
    stream.on('data', onData);
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  write(parts: readonly Buffer[], done?: WriteCallback): void {
    const stream = this.stream;
    if (parts.length === 1) return void stream.write(parts[0], done);
    stream.cork();
    const last = parts.length - 1;
    for (let i = 0; i < last; i++) stream.write(parts[i]);
    stream.write(parts[last], done);
    stream.uncork();
  }

  get writableLength(): number {
    return this.stream.writableLength;
  }

  get writableHighWaterMark(): number {
    return this.stream.writableHighWaterMark;
  }

  get writable(): boolean {
    return this.stream.writable;
  }

  get destroyed(): boolean {
    return this.stream.destroyed;
  }

  end(): void {
    this.stream.end();
  }

  destroy(): void {
    this.stream.destroy();
  }

  stop(): void {
    this.stream.removeListener('data', onData);
  }

  /** @internal */
  get reportTo(): WireSink {
    return this.sink;
  }
}

function onData(this: BoundStream, chunk: Buffer): void {
  this[kWire].reportTo.wireData(chunk, false);
}

function onDrain(this: BoundStream): void {
  this[kWire].reportTo.wireDrain();
}

function onEnd(this: BoundStream): void {
  this[kWire].reportTo.wireEnd();
}

function onClose(this: BoundStream): void {
  this[kWire].reportTo.wireClose();
}

function onError(this: BoundStream): void {
  // A reset or a write after the peer left: 'close' follows and reports 1006; nothing to throw.
  this.destroy();
}
