/**
 * The object both sides hand the application: ws-style (`on('message', (data, isBinary))`,
 * `send`, `ping`, `close`, `terminate`), browser-style (`onmessage`, `addEventListener`,
 * `binaryType`), and an async iterable of messages.
 */
import type { EventEmitter } from 'node:events';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, MAX_CONTROL_PAYLOAD } from '../protocol/constants.js';
import { checkClose, type ConnectionOptions, type Frame, type Side } from '../protocol/connection.js';
import { openClient, type ClientOptions } from './client.js';
import { publishClose, publishError, publishOpen } from './diagnostics.js';
import { EmitterTarget } from './emitter-target.js';
import { CloseEvent, ErrorEvent, MessageEvent, setTarget, WebSocketEvent, type EventListenerLike } from './events.js';
import { BlobSends, isBlob, type BlobSink } from './blob-sends.js';
import { Message } from './message.js';
import { topicsView, type PubSub } from './topics.js';
import { Transport, type TransportOptions, type TransportOwner } from './transport.js';

export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';
/** What a binary message arrives as, for each `binaryType`. */
export interface BinaryTypes {
  nodebuffer: Buffer;
  arraybuffer: ArrayBuffer;
  fragments: Buffer[];
  blob: Blob;
}
/** A binary message's data under binaryType `B` (all four forms when `B` is not known). */
export type RawData<B extends BinaryType = BinaryType> = BinaryTypes[B];
export type Data = string | Buffer | ArrayBuffer | ArrayBufferView;
/** What `send()` takes: `Data`, a Blob (read, then sent as binary, in order), or a number (sent as text). */
export type SendData = Data | Blob | number;
export type SendCallback = (error?: Error | null) => void;

export interface SendOptions {
  /** Send as a binary message; by default strings are text and everything else binary. */
  binary?: boolean;
  /** false: more fragments of this message follow (§5.4). */
  fin?: boolean;
  /**
   * Accepted for ws compatibility and ignored: a client always masks and a server never does
   * (RFC 6455 §5.1), and whether a message is compressed follows the agreed `threshold`.
   */
  mask?: boolean;
  compress?: boolean;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const kListener = Symbol('rfc6455.listener');
/** Marks the listener of an `on*` handler: a listener of its own, apart from addEventListener's (HTML §8.1.8.1). */
const kHandler = Symbol('rfc6455.handler');

type Listener = ((...args: any[]) => void) & { [kListener]?: unknown; [kHandler]?: true };

export interface ListenerOptions {
  once?: boolean;
  signal?: AbortSignal;
  capture?: boolean;
  passive?: boolean;
}

/**
 * Event names and listener arguments, for typed `on()`. `B` is the `binaryType` in use: text is
 * always a Buffer, binary data follows `B`. (Not a union of [Buffer, false] | [RawData, true]
 * pairs: TypeScript would then refuse the common one-parameter listener `(data) => ...`.)
 */
export interface WebSocketEventMap<B extends BinaryType = 'nodebuffer'> {
  /**
   * No arguments. Typed as taking any, so that `new Promise((resolve) => ws.once('open', resolve))`
   * type-checks, as it does with ws's types (a `[]` here refuses a one-argument resolve).
   */
  open: any[];
  message: [data: Buffer | RawData<B>, isBinary: boolean];
  fragment: [data: Buffer, isBinary: boolean, fin: boolean];
  ping: [data: Buffer];
  pong: [data: Buffer];
  close: [code: number, reason: Buffer, wasClean: boolean];
  error: [error: Error];
  /** The socket took everything `send()` had buffered after it returned false. No arguments (typed as any, like 'open'). */
  drain: any[];
  /** A received message was discarded by the rate limit (policy 'drop'). */
  rateLimited: [size: number];
  /** A message to send was discarded: the peer is not reading (backpressure policy 'drop'). */
  dropped: [size: number];
  /** Client: the server's 101 answer, before it is checked. */
  upgrade: [response: IncomingMessage];
  /**
   * Client: the server answered something other than 101. With a listener, this replaces the
   * 'error': read the response (body included); 'close' 1006 follows once it is done with.
   */
  'unexpected-response': [request: ClientRequest, response: IncomingMessage];
  /** Client, with `followRedirects`: the request to the next URL, not yet sent (headers can be set). */
  redirect: [url: string, request: ClientRequest];
}

/**
 * An EventEmitter and an EventTarget: see emitter-target.ts for how it is both. `B` types binary
 * messages: the library cannot see an assignment to `binaryType`, so code that changes it says so
 * in the type too (`new WebSocket<'arraybuffer'>(url)`; `WebSocket<BinaryType>` for any). `User` is
 * the type of `user` (the server's `authenticate` result).
 */
export class WebSocket<B extends BinaryType = 'nodebuffer', User = unknown> extends EmitterTarget<WebSocketEventMap<B>> implements TransportOwner, BlobSink {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  // On the prototype (below), as in browsers: four own fields would cost every connection 32 bytes.
  declare readonly CONNECTING: typeof CONNECTING;
  declare readonly OPEN: typeof OPEN;
  declare readonly CLOSING: typeof CLOSING;
  declare readonly CLOSED: typeof CLOSED;

  // Read-only attributes, as in browsers (accessors on the prototype, set through the @internal
  // methods below by the client and the server).
  private state: number = CONNECTING;
  private agreedProtocol = '';
  private agreedExtensions = '';
  private address = '';
  private binaryKind: BinaryType = 'nodebuffer';
  /** What the server's `authenticate` hook returned for this connection. */
  user: User = undefined as User;

  /** @internal The server's bookkeeping, run as the connection ends (before 'close' listeners). */
  closeHook: ((ws: WebSocket, code: number) => void) | null = null;
  /** @internal The client's address, kept only when the server counts connections per address. */
  peerAddress: string | undefined = undefined;
  /** @internal The topics registry of the server that accepted this connection. */
  pubsub: PubSub | null = null;
  /** @internal Set while a client handshake runs: `close()`/`terminate()` abort it. */
  abortHandshake: ((error: Error) => void) | null = null;
  private transport: Transport | null = null;
  private bufferedAfterClose = 0;
  /** REFUSING and STREAMING, below: the state of the message being sent, in one field. */
  private sending = 0;

  /**
   * A client connection, as in a browser: `new WebSocket(url, protocols, options)`, or as in ws
   * `new WebSocket(url, options)`. It connects in the background; listen for 'open', or use
   * `connect()` for a promise. Throws a SyntaxError for an invalid URL or subprotocol.
   */
  constructor(address?: string | URL, protocols?: string | string[] | ClientOptions | null, options?: ClientOptions) {
    super();
    if (address === undefined) return;
    // A plain object in second place is the options (ws); null is a subprotocol, and invalid.
    if (protocols !== null && typeof protocols === 'object' && !Array.isArray(protocols)) {
      options = protocols;
      protocols = undefined;
    }
    openClient(this, address, protocols as string | string[] | null | undefined, options ?? {});
  }

  /** CONNECTING, OPEN, CLOSING or CLOSED. */
  get readyState(): number {
    return this.state;
  }
  /** The subprotocol agreed in the handshake, or ''. */
  get protocol(): string {
    return this.agreedProtocol;
  }
  /** The extensions agreed in the handshake, as the Sec-WebSocket-Extensions value, or ''. */
  get extensions(): string {
    return this.agreedExtensions;
  }
  /** Client: the URL connected to (after redirects); server: the request target. */
  get url(): string {
    return this.address;
  }

  /** @internal */
  setReadyState(state: number): void {
    this.state = state;
  }
  /** @internal */
  setUrl(url: string): void {
    this.address = url;
  }
  /** @internal What the handshake agreed on. */
  setAgreed(protocol: string, extensions: string): void {
    this.agreedProtocol = protocol;
    this.agreedExtensions = extensions;
  }

  /** How binary messages are delivered; other values are ignored, as in browsers. */
  get binaryType(): BinaryType {
    return this.binaryKind;
  }
  set binaryType(type: BinaryType) {
    if (BINARY_TYPES.has(type)) this.binaryKind = type;
  }

  /** @internal Takes over an upgraded socket; reading waits for `startReading`. */
  attach(socket: Duplex, side: Side, connection: ConnectionOptions, transport: TransportOptions): void {
    this.transport = new Transport(socket, this, side, connection, transport);
    this.state = OPEN;
    publishOpen(this, side);
  }

  /** @internal Starts reading, once the application has been handed the connection. */
  startReading(head?: Buffer): void {
    this.transport?.start(head);
  }

  /** Bytes queued to send (frames, messages being compressed) that the kernel has not yet taken. */
  get bufferedAmount(): number {
    const transport = this.transport;
    const waiting = this.blobs === null ? 0 : this.blobs.bytes;
    if (!transport) return this.bufferedAfterClose + waiting;
    return transport.bufferedAmount + this.bufferedAfterClose + waiting;
  }

  /**
   * Sends a message (or, with `fin: false`, a fragment of one: the next `send()` continues it).
   * Returns false when more than the socket's high-water mark is waiting, or the message was not
   * sent: wait for 'drain' to go on. The callback is called exactly once: when the message is
   * written, or with an error if it never will be.
   *
   * As in ws: a number is sent as text, no data at all as an empty binary message, and a Blob as
   * binary once it is read — sends after it wait for it, so messages keep their order.
   */
  send(data?: SendData, options?: SendOptions | SendCallback, callback?: SendCallback): boolean {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    if (this.state === CONNECTING) throw new Error(notOpen(CONNECTING));
    if (this.sending & STREAMING) throw new Error('A message is being sent with sendStream(): wait for it to finish');
    if (typeof data === 'number') data = String(data);
    const isBinary = options?.binary ?? typeof data !== 'string';
    const fin = options?.fin ?? true;
    if (this.blobs !== null || isBlob(data)) {
      const bytes = isBlob(data) ? data : toBytes(data ?? EMPTY);
      if (this.state !== OPEN) return this.refuse(isBlob(bytes) ? bytes.size : bytes.length, callback);
      this.behindBlobs(bytes, (read) => this.sendPart(read, isBinary, fin, callback, true), (error) => this.blobUnreadable(error, callback));
      return true;
    }
    return this.sendPart(data === undefined ? EMPTY : data, isBinary, fin, callback);
  }

  /** Sends waiting behind a Blob being read; null when none (the usual case). */
  private blobs: BlobSends | null = null;

  /** @internal BlobSink */
  blobSendsDone(): void {
    this.blobs = null;
  }

  /** Queues a call behind the Blobs being read (see blob-sends.ts). */
  private behindBlobs(data: Uint8Array | Blob, run: (bytes: Uint8Array) => void, fail?: (error: Error) => void): void {
    (this.blobs ??= new BlobSends(this)).push(data, run, fail);
  }

  /**
   * A Blob given to send() could not be read (its file changed, say): the message is lost, and
   * the peer would see the ones after it without it, so the connection fails, as in ws: the
   * callback and 'error' get the reason, and the connection is dropped (1006). Once it has
   * closed, only the callback hears of it: 'close' is the last event, as in ws.
   */
  private blobUnreadable(error: Error, callback: SendCallback | undefined): void {
    callback?.(error);
    if (this.state !== CLOSED && this.listenerCount('error') > 0) this.emit('error', error);
    this.transport?.terminate(`A Blob could not be read: ${error.message}`);
  }

  /** A send, ping or pong after close: counted in `bufferedAmount` (as in browsers), never sent. */
  private refuse(size: number, callback: SendCallback | undefined): false {
    this.bufferedAfterClose += size;
    if (callback) process.nextTick(callback, new Error(notOpen(this.state)));
    return false;
  }

  /**
   * Sends one message or fragment, now. `queued`: it waited behind a Blob, and goes out even if
   * `close()` was called meanwhile (the close frame waits behind it).
   */
  private sendPart(data: Data, isBinary: boolean, fin: boolean, callback: SendCallback | undefined, queued = false): boolean {
    const payload = toBytes(data);
    const transport = this.transport;
    if (!transport || (this.state !== OPEN && !queued) || transport.connection.closeSent) return this.refuse(payload.length, callback);
    // A message is admitted or refused whole: once its first fragment is refused, so is the rest.
    if (this.sending & REFUSING) {
      if (fin) this.sending &= ~REFUSING;
      if (callback) process.nextTick(callback, new Error('Message not sent: its first fragment was refused'));
      return false;
    }
    if (!transport.admits(payload.length)) {
      const first = !transport.connection.sendingMessage;
      if (first && !fin && transport.policies.dropSlowConsumer) this.sending |= REFUSING;
      return this.slowConsumer(payload.length, callback, first);
    }
    transport.connection.send(payload, isBinary, fin, callback);
    this.countOut(transport, payload.length);
    return transport.belowHighWaterMark();
  }

  private countOut(transport: Transport, size: number): void {
    transport.active = true;
    const stats = transport.policies.stats;
    if (stats) {
      stats.messagesOut++;
      stats.bytesOut += size;
    }
  }

  /**
   * @internal Writes a frame serialized once for many connections (server side, unmasked, never
   * compressed), through the same queue, backpressure policy and counters as `send()`.
   */
  sendFrame(frame: Frame, size: number): boolean {
    const transport = this.transport;
    if (this.readyState !== OPEN || !transport || transport.connection.closeSent) return false;
    if (!transport.admits(size)) return this.slowConsumer(size, undefined, true);
    transport.connection.sendFrame(frame);
    this.countOut(transport, size);
    return transport.belowHighWaterMark();
  }

  /** Server side: receive what is published on `topic` (see `WebSocketServer.publish`). False if already subscribed. */
  subscribe(topic: string): boolean {
    if (!this.pubsub) throw new Error('Topics are for connections accepted by a WebSocketServer');
    return this.pubsub.subscribe(this, topic);
  }

  unsubscribe(topic: string): boolean {
    return this.pubsub?.unsubscribe(this, topic) ?? false;
  }

  /** The topics this connection subscribes to (read-only; it leaves them all when it closes). */
  get topics(): ReadonlySet<string> {
    return topicsView(this);
  }

  /**
   * The peer does not read what we send: drop the message or close with 1013, as configured. A
   * message whose first fragments went out cannot be dropped (the peer would take what follows
   * for their tail), so there the connection closes whatever the policy.
   */
  private slowConsumer(size: number, callback: SendCallback | undefined, droppable: boolean): false {
    const error = new Error('Message not sent: the peer is not reading (maxBufferedAmount reached)');
    if (callback) process.nextTick(callback, error);
    const transport = this.transport!;
    if (droppable && transport.policies.dropSlowConsumer) this.emit('dropped', size);
    else transport.close(CloseCode.TryAgainLater, 'Slow consumer', 'Slow consumer');
    return false;
  }

  /** Runs `fn` and sends every frame it produced in one write. */
  cork(fn: () => void): void {
    try {
      fn();
    } finally {
      this.transport?.flush();
    }
  }

  /**
   * Sends a message as a stream of fragments, one per chunk; resolves when the last is written.
   * Each fragment waits for the one before to be written, so a slow peer slows the stream. Other
   * sends meanwhile throw (they would land inside the message). If the source fails after
   * fragments went out, the message cannot be taken back: the connection closes with 1011.
   */
  async sendStream(chunks: AsyncIterable<Data> | Iterable<Data>, options: { binary?: boolean } = {}): Promise<void> {
    if (this.readyState === CONNECTING) throw new Error(notOpen(CONNECTING));
    if (this.sending & STREAMING) throw new Error('A message is being sent with sendStream(): wait for it to finish');
    if (this.transport?.connection.sendingMessage) throw new Error('A fragmented message is being sent: finish it first');
    this.sending |= STREAMING;
    let started = false;
    try {
      let previous: Data | undefined;
      let isBinary = options.binary;
      for await (const chunk of chunks) {
        if (previous !== undefined) {
          await this.sendAsync(previous, isBinary ?? typeof previous !== 'string', false);
          started = true;
        }
        isBinary ??= typeof chunk !== 'string';
        previous = chunk;
      }
      await this.sendAsync(previous ?? EMPTY, isBinary ?? true, true);
    } catch (error) {
      this.sending &= ~REFUSING;
      if (started && this.readyState === OPEN) this.transport!.close(CloseCode.InternalError, 'Message stream failed');
      throw error;
    } finally {
      this.sending &= ~STREAMING;
    }
  }

  private sendAsync(data: Data, isBinary: boolean, fin: boolean): Promise<void> {
    return new Promise((resolve, reject) => this.sendPart(data, isBinary, fin, (error) => (error ? reject(error) : resolve())));
  }

  /**
   * Sends a ping; `ping(cb)`, `ping(data, cb)` and ws's `ping(data, mask, cb)` all work. `mask` is
   * ignored: whether control frames are masked is decided by the side (RFC 6455 §5.1).
   */
  ping(data?: SendData | SendCallback, mask?: boolean | SendCallback, callback?: SendCallback): void {
    this.control('ping', data, mask, callback);
  }

  pong(data?: SendData | SendCallback, mask?: boolean | SendCallback, callback?: SendCallback): void {
    this.control('pong', data, mask, callback);
  }

  private control(
    kind: 'ping' | 'pong',
    data: SendData | SendCallback | undefined,
    mask: boolean | SendCallback | undefined,
    callback: SendCallback | undefined,
  ): void {
    if (typeof data === 'function') {
      callback = data;
      data = undefined;
    } else if (typeof mask === 'function') {
      callback = mask;
    }
    if (this.state === CONNECTING) throw new Error(notOpen(CONNECTING));
    const payload = data === undefined ? EMPTY : isBlob(data) ? data : toBytes(typeof data === 'number' ? String(data) : data);
    const size = isBlob(payload) ? payload.size : payload.length;
    if (size > MAX_CONTROL_PAYLOAD) throw new RangeError('Control frame payloads are limited to 125 bytes');
    if (this.state !== OPEN || !this.transport) return void this.refuse(size, callback);
    if (this.blobs !== null || isBlob(payload)) {
      return this.behindBlobs(payload, (bytes) => this.controlNow(kind, bytes, callback), (error) => this.blobUnreadable(error, callback));
    }
    this.controlNow(kind, payload, callback);
  }

  private controlNow(kind: 'ping' | 'pong', payload: Uint8Array, callback: SendCallback | undefined): void {
    if (!this.transport!.connection[kind](payload, callback)) this.refuse(payload.length, callback);
  }

  /** Starts the close handshake; 'close' follows when it completes or times out. */
  close(code?: number, reason?: string | Buffer): void {
    checkClose(code, reason ?? '');
    if (this.state === CLOSED) return;
    // Connecting, or a handshake that failed and is reporting it.
    if (this.state === CONNECTING || !this.transport) return void this.abortHandshake?.(new Error(CLOSED_WHILE_CONNECTING));
    if (this.blobs !== null) {
      // The close frame goes after the messages sent before it, once their Blobs are read.
      if (this.state !== OPEN) return;
      this.state = CLOSING;
      return this.behindBlobs(EMPTY, () => this.transport!.close(code, reason));
    }
    this.transport.close(code, reason);
  }

  /** Destroys the connection at once, without a close handshake. */
  terminate(reason?: string): void {
    if (this.state === CLOSED) return;
    if (this.state === CONNECTING || !this.transport) return void this.abortHandshake?.(new Error(CLOSED_WHILE_CONNECTING));
    this.state = CLOSING;
    this.transport.terminate(reason);
  }

  /**
   * Stops delivering messages: parsing stops after the current frame and reading stops, so TCP
   * backpressure reaches the peer.
   */
  pause(): void {
    if (!this.transport || this.state === CLOSED) return;
    this.paused = true;
    this.transport.pause();
  }

  /** Reading goes on after `pause()`. Does nothing while connecting or once closed. */
  resume(): void {
    if (!this.transport || this.state === CLOSED) return;
    this.paused = false;
    this.transport.resume();
  }

  /** Whether the application paused the connection (`pause()` without a `resume()` since). */
  get isPaused(): boolean {
    return this.paused;
  }

  private paused = false;

  /**
   * @internal The upgraded socket (null while connecting), under the name ws code reaches it by
   * (`ws._socket.remoteAddress` is a common idiom). Not part of the typed API: bytes written to it
   * bypass the connection's queue and framing.
   */
  get _socket(): Duplex | null {
    return this.transport?.publicSocket ?? null;
  }

  // TransportOwner: what the connection reports.

  onTransportMessage(data: Buffer, isBinary: boolean): void {
    (this as WebSocket).emit('message', isBinary ? (this.binary(data) as Buffer) : data, isBinary);
  }

  onTransportFragment(data: Buffer, isBinary: boolean, fin: boolean): void {
    this.emit('fragment', data, isBinary, fin);
  }

  onTransportPing(data: Buffer): void {
    this.emit('ping', data);
  }

  onTransportPong(data: Buffer): void {
    this.emit('pong', data);
  }

  onTransportDrain(): void {
    this.emit('drain');
  }

  onTransportRateLimited(size: number): void {
    this.emit('rateLimited', size);
  }

  onTransportError(error: Error): void {
    publishError(this, this.transport?.connection.side ?? 'client', error);
    // A bad peer must not crash a process that did not listen for errors.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  onTransportClosing(): void {
    if (this.readyState === OPEN) this.state = CLOSING;
  }

  onTransportClose(code: number, reason: Buffer, wasClean: boolean): void {
    this.state = CLOSED;
    this.closeHook?.(this, code);
    publishClose(this, this.transport!.connection.side, code, reason, wasClean);
    this.emit('close', code, reason, wasClean);
  }

  /** @internal A client handshake that failed: 'error' (if listened to and any), then 'close' 1006. */
  failHandshake(error: Error | null): void {
    if (this.readyState === CLOSED) return;
    // 'error' listeners still see CLOSING, as in ws; CLOSED comes with 'close'.
    this.state = CLOSING;
    if (error) this.onTransportError(error);
    this.state = CLOSED;
    publishClose(this, 'client', CloseCode.Abnormal, EMPTY, false);
    this.emit('close', CloseCode.Abnormal, EMPTY, false);
  }

  private binary(data: Buffer): unknown {
    switch (this.binaryKind) {
      case 'arraybuffer':
        return data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
      case 'fragments':
        return [data];
      case 'blob':
        return new Blob([data as Uint8Array<ArrayBuffer>]);
      default:
        return data;
    }
  }

  // Browser-style events. Listeners added here are emitter listeners (so `ws.emit('open')` and
  // `listenerCount('open')` see them, as in ws) that wrap the application's listener and hand it
  // an Event made from the emitter's arguments.

  /**
   * As EventTarget's: a listener is added once per type (a second call does nothing); options
   * `once` and `signal` are honoured (`capture` and `passive` mean nothing without a tree).
   */
  addEventListener(type: string, listener: EventListenerLike<any> | null, options?: boolean | ListenerOptions): void {
    if (listener === null || listener === undefined) return;
    if (this.findListener(type, listener, false) !== undefined) return;
    const signal = typeof options === 'object' ? options.signal : undefined;
    if (signal?.aborted) return;
    this.addWrapped(type, listener, typeof options === 'object' && options.once === true, false);
    signal?.addEventListener('abort', () => this.removeEventListener(type, listener), { once: true });
  }

  /** An emitter listener that hands `listener` the Event made from the emitter's arguments. */
  private addWrapped(type: string, listener: EventListenerLike<any>, once: boolean, handler: boolean): void {
    const wrapped: Listener = (...args: any[]) => dispatch(listener, this.toEvent(type, args));
    wrapped[kListener] = listener;
    if (handler) wrapped[kHandler] = true;
    if (once) (this as EventEmitter).once(type, wrapped);
    else (this as EventEmitter).on(type, wrapped);
  }

  removeEventListener(type: string, listener: EventListenerLike<any> | null): void {
    if (listener === null || listener === undefined) return;
    const existing = this.findListener(type, listener, false);
    if (existing !== undefined) (this as EventEmitter).removeListener(type, existing);
  }

  /**
   * As EventTarget's: calls the listeners added with `addEventListener` (and the `on*`
   * properties) for `event.type`, with `event` and its `target` set to this WebSocket. Listeners
   * added with `on()` are not called: they take ws-style arguments, not events. Returns false if
   * a listener called `preventDefault()` on a cancelable event.
   */
  dispatchEvent(event: Event): boolean {
    if (!(event instanceof Event)) throw new TypeError('dispatchEvent() takes an Event');
    setTarget(event, this);
    for (const existing of (this as EventEmitter).rawListeners(event.type) as Listener[]) {
      const inner = (existing as Listener & { listener?: Listener }).listener ?? existing;
      // A once-wrapper removes itself when called.
      if (inner[kListener] !== undefined) existing(event);
    }
    return !event.defaultPrevented;
  }

  /** The emitter listener (or its once-wrapper) standing for `listener` on `type`, added by addEventListener or as the handler. */
  private findListener(type: string, listener: EventListenerLike<any>, handler: boolean): Listener | undefined {
    for (const existing of (this as EventEmitter).rawListeners(type) as Listener[]) {
      const inner = (existing as Listener & { listener?: Listener }).listener ?? existing;
      if (inner[kListener] === listener && (inner[kHandler] === true) === handler) return existing;
    }
    return undefined;
  }

  /** The Event for what the emitter emitted: WHATWG's for the four WebSocket events. */
  private toEvent(type: string, args: any[]): Event {
    let event: WebSocketEvent;
    const first = args[0];
    // dispatchEvent(event), or an emit of an Event: delivered as is.
    if (first instanceof Event) return first;
    switch (type) {
      case 'message': {
        const isBinary = args[1] as boolean;
        event = new MessageEvent('message', { data: isBinary ? first : (first as Buffer).toString('utf8') });
        break;
      }
      case 'close':
        event = new CloseEvent('close', { code: first, reason: (args[1] as Buffer).toString('utf8'), wasClean: args[2] });
        break;
      case 'error':
        event = new ErrorEvent('error', { error: first, message: first instanceof Error ? first.message : String(first) });
        break;
      default:
        event = new WebSocketEvent(type);
    }
    setTarget(event, this);
    return event;
  }

  get onopen(): EventListenerLike<WebSocketEvent> | null {
    return this.handler('open');
  }
  set onopen(listener) {
    this.setHandler('open', listener);
  }
  get onmessage(): EventListenerLike<MessageEvent> | null {
    return this.handler('message');
  }
  set onmessage(listener) {
    this.setHandler('message', listener);
  }
  get onclose(): EventListenerLike<CloseEvent> | null {
    return this.handler('close');
  }
  set onclose(listener) {
    this.setHandler('close', listener);
  }
  get onerror(): EventListenerLike<ErrorEvent> | null {
    return this.handler('error');
  }
  set onerror(listener) {
    this.setHandler('error', listener);
  }

  /** The on* handlers; made on first use, as most connections never have one. */
  private handlers: Map<string, EventListenerLike<any>> | null = null;

  private handler(type: string): EventListenerLike<any> | null {
    return this.handlers?.get(type) ?? null;
  }

  private setHandler(type: string, listener: EventListenerLike<any> | null): void {
    const handlers = (this.handlers ??= new Map());
    const previous = handlers.get(type);
    if (previous) {
      const existing = this.findListener(type, previous, true);
      if (existing !== undefined) (this as EventEmitter).removeListener(type, existing);
    }
    handlers.delete(type);
    if (typeof listener === 'function') {
      handlers.set(type, listener);
      this.addWrapped(type, listener, false, true);
    }
  }

  /** Messages as they arrive, until the connection closes. Reading pauses while too many wait. */
  [Symbol.asyncIterator](): AsyncIterator<Message> {
    const queue: Message[] = [];
    let waiting: ((result: IteratorResult<Message>) => void) | null = null;
    let done = this.readyState === CLOSED;
    const onMessage = (data: Buffer | RawData<B>, isBinary: boolean) => {
      const message = new Message(asBuffer(data), isBinary);
      if (waiting) {
        const resolve = waiting;
        waiting = null;
        resolve({ value: message, done: false });
      } else {
        queue.push(message);
        if (queue.length >= ITERATOR_HIGH_WATER) this.pause();
      }
    };
    const finish = () => {
      done = true;
      this.off('message', onMessage);
      this.off('close', finish);
      if (waiting) waiting({ value: undefined, done: true });
      waiting = null;
    };
    this.on('message', onMessage);
    this.on('close', finish);
    return {
      next: () => {
        const message = queue.shift();
        if (message) {
          if (queue.length < ITERATOR_HIGH_WATER / 2) this.resume();
          return Promise.resolve({ value: message, done: false });
        }
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (waiting = resolve));
      },
      return: () => {
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

// Constants as WebIDL makes them: enumerable, neither writable nor configurable, on both the
// class and its prototype.
for (const [name, value] of Object.entries({ CONNECTING, OPEN, CLOSING, CLOSED })) {
  Object.defineProperty(WebSocket, name, { value, enumerable: true, writable: false, configurable: false });
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true, writable: false, configurable: false });
}
// Attributes are enumerable accessors on the prototype, as WebIDL makes them in browsers.
for (const name of ['binaryType', 'bufferedAmount', 'extensions', 'isPaused', 'onopen', 'onmessage', 'onclose', 'onerror', 'protocol', 'readyState', 'url']) {
  const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, name)!;
  Object.defineProperty(WebSocket.prototype, name, { ...descriptor, enumerable: true });
}

const BINARY_TYPES = new Set<unknown>(['nodebuffer', 'arraybuffer', 'fragments', 'blob']);
const ITERATOR_HIGH_WATER = 64;
/** `sending` flags: the message being sent was refused at its first fragment; a sendStream runs. */
const REFUSING = 1;
const STREAMING = 2;
const EMPTY = Buffer.alloc(0);
const CLOSED_WHILE_CONNECTING = 'WebSocket was closed before the connection was established';
const STATE_NAMES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];

function notOpen(state: number): string {
  return `WebSocket is not open: readyState ${state} (${STATE_NAMES[state]})`;
}

function dispatch(listener: EventListenerLike<any>, event: Event): void {
  if (typeof listener === 'function') listener.call(event.target, event);
  else listener.handleEvent(event);
}

/** The message bytes back from whatever `binaryType` made of them (a Blob cannot be read synchronously). */
function asBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (Array.isArray(data)) return Buffer.concat(data);
  throw new TypeError('Async iteration needs binaryType nodebuffer, arraybuffer or fragments');
}

function toBytes(data: Data): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data);
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === 'number' || typeof data === 'boolean') return Buffer.from(String(data));
  throw new TypeError('send() takes a string, Buffer, ArrayBuffer or typed array');
}
