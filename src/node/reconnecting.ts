/**
 * A client that stays connected: when the connection drops it reconnects with exponential
 * backoff and jitter, to the same URL or the next of a list (another server of the cluster).
 * Messages sent while disconnected wait in a bounded queue; `onConnect` runs on every new
 * connection (authenticate again, subscribe again) before the queue is flushed.
 *
 * With `topics: true` it speaks rfc6455.topics.v1: `subscribe(topic)` is remembered, and every
 * new connection subscribes again from the last position received (topic-client.ts), so each
 * message of a topic with history reaches 'topic' once and in order, across reconnections to
 * any server; what cannot be recovered is a 'gap'.
 */
import { EventEmitter } from 'node:events';
import { CloseCode } from '../protocol/constants.js';
import type { ClientOptions } from './client.js';
import { parseClientUrl } from './client-url.js';
import { connect } from './connect.js';
import { HandshakeError } from './errors.js';
import { TOPICS_PROTOCOL, type Position } from './history.js';
import { TopicTracker, type GapInfo, type SubscribedInfo, type TopicEvent, type TopicMessage } from './topic-client.js';
import { isControl } from './topics-wire.js';
import type { Data, SendOptions, WebSocket } from './websocket.js';

export interface ReconnectOptions {
  /** Milliseconds before the first retry (default 250). */
  initialDelay?: number;
  /** The longest wait between retries (default 10 000). */
  maxDelay?: number;
  /** Each failed attempt multiplies the delay by this (default 2). */
  factor?: number;
  /** 0..1: the delay is drawn at random from [delay × (1 − jitter), delay] (default 0.5). */
  jitter?: number;
  /** Consecutive failed attempts before giving up (default Infinity). */
  maxRetries?: number;
  /**
   * A connection must stay open this many ms for the retry count (and so the delay) to start
   * again from zero (default 5000): a server that accepts and drops at once is still backed off.
   */
  minUptime?: number;
  /**
   * Whether to reconnect after a close or a failed handshake. By default: not after a policy
   * close (1008), nor after a handshake refused with 401 or 403.
   */
  shouldReconnect?: (info: DisconnectInfo) => boolean;
}

export interface QueueOptions {
  /** Most messages kept while disconnected (default 1000; 0: nothing is kept). */
  maxMessages?: number;
  /** Most bytes kept while disconnected (default 16 MiB). */
  maxBytes?: number;
  /** When full: drop the oldest queued message (default), drop the new one, or throw. */
  policy?: 'drop-oldest' | 'drop-newest' | 'error';
}

export interface ReconnectingOptions extends ClientOptions {
  reconnect?: ReconnectOptions;
  queue?: QueueOptions;
  /**
   * Runs on every new connection before queued messages are sent and before 'open'/'reconnect':
   * send credentials, subscribe again. A rejection closes that connection and counts as a failed attempt.
   */
  onConnect?: (ws: WebSocket, info: { attempt: number; reconnect: boolean }) => void | Promise<void>;
  /** Offer the rfc6455.topics.v1 subprotocol (first) and take its frames: see `subscribe()`. */
  topics?: boolean;
}

export interface DisconnectInfo {
  /** The close code (1006 for a dropped connection or a failed handshake). */
  code: number;
  reason: string;
  /** Why the attempt failed, when it did not get to open. */
  error?: Error;
}

export interface ReconnectingEventMap {
  /** A connection is open (and `onConnect` has run). */
  open: [ws: WebSocket];
  /** A connection other than the first is open: `attempt` retries it took. */
  reconnect: [ws: WebSocket, attempt: number];
  /** The next attempt starts in `delay` ms. */
  reconnecting: [attempt: number, delay: number, info: DisconnectInfo];
  /** An open connection closed; a reconnection follows unless 'close' does. */
  disconnect: [info: DisconnectInfo];
  message: [data: Buffer, isBinary: boolean];
  /** A message waiting for a connection was discarded (queue full, or closed for good). */
  dropped: [data: Data];
  /** For good: `close()` was called, a policy close, or retries ran out. */
  close: [code: number, reason: string];
  error: [error: Error];
  /** A message on a subscribed topic (`topics: true`), each offset once and in order. */
  topic: [message: TopicMessage];
  /** Messages of a topic were lost: history no longer had them, or its epoch changed. */
  gap: [gap: GapInfo];
  /** The server confirmed a subscription (on every connection). */
  subscribed: [info: SubscribedInfo];
  /** The server refused a subscription (`reason`: 'forbidden', 'invalid command'). */
  refused: [topic: string | undefined, reason: string];
}

export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

type Address = string | URL | readonly (string | URL)[] | ((attempt: number) => string | URL);

interface Queued {
  data: Data;
  options: SendOptions | undefined;
  size: number;
}

export class ReconnectingWebSocket extends EventEmitter<ReconnectingEventMap> {
  /** The current connection, while one is open. */
  ws: WebSocket | null = null;
  /** Failed attempts since the last connection that stayed up (see `minUptime`). */
  attempt = 0;
  private openedAt = 0;
  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  private urlIndex = 0;
  private connections = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private pending: WebSocket | null = null;
  private readonly backoff: Required<Omit<ReconnectOptions, 'shouldReconnect'>>;
  private readonly limits: Required<QueueOptions>;
  private readonly clientOptions: ClientOptions;
  private readonly tracker: TopicTracker | null;

  constructor(
    private readonly address: Address,
    private readonly options: ReconnectingOptions = {},
  ) {
    super();
    // A URL that can never work is the caller's mistake: say so now, instead of retrying it
    // forever. A function's URLs are only known per attempt and are checked then (open()).
    if (typeof address !== 'function') {
      const list: readonly (string | URL)[] = Array.isArray(address) ? address : [address as string | URL];
      if (list.length === 0) throw new SyntaxError('ReconnectingWebSocket needs at least one URL');
      for (const url of list) checkUrl(url);
    }
    this.backoff = checkBackoff(options.reconnect ?? {});
    const q = options.queue ?? {};
    this.limits = { maxMessages: q.maxMessages ?? 1000, maxBytes: q.maxBytes ?? 16 * 1024 * 1024, policy: q.policy ?? 'drop-oldest' };
    const { reconnect: _r, queue: _q, onConnect: _c, topics, ...clientOptions } = options;
    this.tracker = topics ? new TopicTracker() : null;
    if (topics) {
      const offered = clientOptions.protocols === undefined ? [] : ([] as string[]).concat(clientOptions.protocols);
      clientOptions.protocols = [TOPICS_PROTOCOL, ...offered.filter((p) => p !== TOPICS_PROTOCOL)];
    }
    this.clientOptions = clientOptions;
    process.nextTick(() => this.open());
  }

  /** Resolves at the first open connection; rejects if it closes for good before one. */
  static connect(address: Address, options?: ReconnectingOptions): Promise<ReconnectingWebSocket> {
    const rws = new ReconnectingWebSocket(address, options);
    return new Promise((resolve, reject) => {
      const onOpen = () => {
        rws.off('close', onClose);
        resolve(rws);
      };
      const onClose = (code: number, reason: string) => {
        rws.off('open', onOpen);
        reject(new Error(`Could not connect (${code}${reason ? `: ${reason}` : ''})`));
      };
      rws.once('open', onOpen);
      rws.once('close', onClose);
    });
  }

  get readyState(): number {
    if (this.stopped) return 3;
    return this.ws ? this.ws.readyState : 0;
  }

  /** Messages waiting for a connection. */
  get queuedMessages(): number {
    return this.queue.length;
  }

  /** The URL of the current (or next) connection. */
  get url(): string {
    return String(this.currentUrl());
  }

  /**
   * Sends now when connected, else queues (see `queue`). Returns false when the message was not
   * sent now (queued, dropped, or the socket is over its high-water mark).
   */
  send(data: Data, options?: SendOptions): boolean {
    if (this.stopped) throw new Error('ReconnectingWebSocket is closed');
    const ws = this.ws;
    if (ws && ws.readyState === ws.OPEN && this.queue.length === 0) return ws.send(data, options);
    this.enqueue({ data, options, size: byteLength(data) });
    return false;
  }

  /**
   * Subscribes to a topic (`topics: true`), now if connected, and again on every new connection
   * from the last position received; `since` starts from a position saved elsewhere.
   */
  subscribe(topic: string, since?: Position | null): void {
    const frame = this.topicTracker().subscribe(topic, since);
    if (this.usesTopics(this.ws)) this.ws!.send(frame);
  }

  unsubscribe(topic: string): void {
    const frame = this.topicTracker().unsubscribe(topic);
    if (frame && this.usesTopics(this.ws)) this.ws!.send(frame);
  }

  /** The last position received on a topic (save it to resume in another process). */
  position(topic: string): Position | null {
    return this.topicTracker().position(topic);
  }

  private topicTracker(): TopicTracker {
    if (!this.tracker) throw new Error('Topics need the `topics: true` option');
    return this.tracker;
  }

  private usesTopics(ws: WebSocket | null): boolean {
    return this.tracker !== null && ws !== null && ws.readyState === ws.OPEN && ws.protocol === TOPICS_PROTOCOL;
  }

  private onTopicEvent(event: TopicEvent): void {
    if (event.type === 'topic') this.emit('topic', event.message);
    else if (event.type === 'gap') this.emit('gap', event.gap);
    else if (event.type === 'subscribed') this.emit('subscribed', event.info);
    else this.emit('refused', event.topic, event.reason);
  }

  /** Closes for good: no reconnection after this. Queued messages are dropped. */
  close(code?: number, reason?: string): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending?.terminate();
    this.pending = null;
    const ws = this.ws;
    this.ws = null;
    this.dropQueue();
    if (ws && ws.readyState !== ws.CLOSED) {
      ws.once('close', (c: number, r: Buffer) => this.emit('close', c, r.toString()));
      ws.close(code, reason);
    } else {
      this.emit('close', code ?? CloseCode.Normal, reason ?? '');
    }
  }

  private currentUrl(): string | URL {
    const a = this.address;
    if (typeof a === 'function') return a(this.attempt);
    if (Array.isArray(a)) return a[this.urlIndex % a.length];
    return a as string | URL;
  }

  private async open(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    let url: string | URL;
    try {
      // An address function may throw (service discovery down): a failed attempt like any other.
      url = this.currentUrl();
    } catch (error) {
      return this.failed({ code: CloseCode.Abnormal, reason: '', error: toError(error) });
    }
    try {
      checkUrl(url);
    } catch (error) {
      // The same URL would fail the same way at once on every retry: report it once and stop.
      const info: DisconnectInfo = { code: CloseCode.Abnormal, reason: (error as Error).message, error: error as Error };
      this.reportError(info.error!);
      return this.giveUp(info.code, info.reason);
    }
    let ws: WebSocket;
    try {
      // Whatever fails while starting the attempt, synchronously or not, lands here and so goes
      // through retry()'s timer: never straight into another attempt.
      ws = await connect(url, this.clientOptions);
    } catch (error) {
      return this.failed({ code: CloseCode.Abnormal, reason: '', error: toError(error) });
    }
    if (this.stopped) return void ws.terminate();
    this.pending = ws;
    const reconnect = this.connections > 0;
    // Listen before the hook runs: what arrives meanwhile is delivered, and a close is seen.
    let closedEarly: DisconnectInfo | null = null;
    const topics = this.tracker && ws.protocol === TOPICS_PROTOCOL ? this.tracker : null;
    ws.on('message', (data, isBinary) => {
      if (topics && !isBinary && isControl(data)) for (const event of topics.handle(data)) this.onTopicEvent(event);
      else this.emit('message', data, isBinary);
    });
    ws.on('error', (error) => this.reportError(error));
    ws.once('close', (code, reason) => {
      const info = { code, reason: reason.toString() };
      if (this.ws === ws) this.lost(info);
      else closedEarly = info;
    });
    try {
      await this.options.onConnect?.(ws, { attempt: this.attempt, reconnect });
    } catch (error) {
      this.pending = null;
      ws.terminate();
      return this.failed({ code: CloseCode.Abnormal, reason: 'onConnect failed', error: error as Error });
    }
    this.pending = null;
    if (this.stopped) return void ws.terminate();
    if (closedEarly) return this.failed(closedEarly);
    const attempts = this.attempt;
    this.openedAt = Date.now();
    this.connections++;
    this.ws = ws;
    // Back on every topic from where this client was, before anything queued goes out.
    if (topics) for (const frame of topics.resumeFrames()) ws.send(frame);
    else if (this.tracker && this.tracker.topics().length > 0) this.reportError(new Error(`The server did not accept the ${TOPICS_PROTOCOL} subprotocol`));
    this.flushQueue(ws);
    this.emit('open', ws);
    if (reconnect) this.emit('reconnect', ws, attempts);
  }

  /** An open connection closed. */
  private lost(info: DisconnectInfo): void {
    this.ws = null;
    if (this.stopped) return;
    if (Date.now() - this.openedAt >= this.backoff.minUptime) this.attempt = 0;
    this.emit('disconnect', info);
    this.retry(info);
  }

  /** An attempt did not get to open. */
  private failed(info: DisconnectInfo): void {
    if (this.stopped) return;
    if (info.error) this.reportError(info.error);
    this.retry(info);
  }

  private retry(info: DisconnectInfo): void {
    if (!this.shouldReconnect(info)) return this.giveUp(info.code, info.reason || (info.error?.message ?? ''));
    if (this.attempt >= this.backoff.maxRetries) return this.giveUp(info.code, `Gave up after ${this.attempt} retries`);
    this.attempt++;
    this.urlIndex++;
    const delay = this.delay(this.attempt);
    this.emit('reconnecting', this.attempt, delay, info);
    this.timer = setTimeout(() => void this.open(), delay);
  }

  /** Exponential backoff: initialDelay × factor^(attempt − 1), at most maxDelay, minus jitter. */
  private delay(attempt: number): number {
    const { initialDelay, maxDelay, factor, jitter } = this.backoff;
    const base = Math.min(maxDelay, initialDelay * Math.pow(factor, attempt - 1));
    return Math.round(base * (1 - jitter * Math.random()));
  }

  private shouldReconnect(info: DisconnectInfo): boolean {
    const custom = this.options.reconnect?.shouldReconnect;
    if (custom) return custom(info);
    if (info.code === CloseCode.PolicyViolation) return false;
    const status = info.error instanceof HandshakeError ? info.error.status : undefined;
    return status !== 401 && status !== 403;
  }

  private giveUp(code: number, reason: string): void {
    this.stopped = true;
    this.dropQueue();
    this.emit('close', code, reason);
  }

  private enqueue(item: Queued): void {
    const { maxMessages, maxBytes, policy } = this.limits;
    const fits = () => this.queue.length < maxMessages && this.queuedBytes + item.size <= maxBytes;
    if (!fits()) {
      if (policy === 'error') throw new QueueFullError(`Send queue full (${this.queue.length} messages, ${this.queuedBytes} bytes) while disconnected`);
      if (policy === 'drop-newest' || item.size > maxBytes || maxMessages === 0) return void this.emit('dropped', item.data);
      while (this.queue.length > 0 && !fits()) {
        const oldest = this.queue.shift()!;
        this.queuedBytes -= oldest.size;
        this.emit('dropped', oldest.data);
      }
    }
    this.queue.push(item);
    this.queuedBytes += item.size;
  }

  private flushQueue(ws: WebSocket): void {
    if (this.queue.length === 0) return;
    const items = this.queue.splice(0);
    this.queuedBytes = 0;
    ws.cork(() => {
      for (const item of items) ws.send(item.data, item.options);
    });
  }

  private dropQueue(): void {
    const items = this.queue.splice(0);
    this.queuedBytes = 0;
    for (const item of items) this.emit('dropped', item.data);
  }

  private reportError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

/**
 * The URL rules of the client's handshake, checked without connecting: the same function as
 * openClient's (client-url.ts), so every URL a WebSocket takes (ws+unix: included) is taken here.
 */
function checkUrl(address: string | URL): void {
  parseClientUrl(address);
}

/**
 * Backoff options with defaults, refused when they would retry without waiting: a zero or NaN
 * delay (setTimeout runs those at once), or a factor below 1 that shrinks the delay towards zero,
 * turns a server that is down into a hot loop.
 */
function checkBackoff(r: ReconnectOptions): Required<Omit<ReconnectOptions, 'shouldReconnect'>> {
  const backoff = {
    initialDelay: r.initialDelay ?? 250,
    maxDelay: r.maxDelay ?? 10_000,
    factor: r.factor ?? 2,
    jitter: r.jitter ?? 0.5,
    maxRetries: r.maxRetries ?? Infinity,
    minUptime: r.minUptime ?? 5000,
  };
  const positive = (name: keyof typeof backoff) => {
    const value = backoff[name];
    if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`reconnect.${name} must be a positive number of ms, not ${value}`);
  };
  positive('initialDelay');
  positive('maxDelay');
  if (!(backoff.factor >= 1) || !Number.isFinite(backoff.factor)) throw new RangeError(`reconnect.factor must be at least 1, not ${backoff.factor}`);
  if (Number.isNaN(backoff.jitter)) throw new RangeError('reconnect.jitter must be a number from 0 to 1');
  backoff.jitter = Math.min(1, Math.max(0, backoff.jitter));
  if (!(backoff.maxRetries >= 0)) throw new RangeError(`reconnect.maxRetries must be 0 or more, not ${backoff.maxRetries}`);
  if (!(backoff.minUptime >= 0)) throw new RangeError(`reconnect.minUptime must be 0 or more, not ${backoff.minUptime}`);
  return backoff;
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function byteLength(data: Data): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  return (data as ArrayBufferView | ArrayBuffer).byteLength;
}
