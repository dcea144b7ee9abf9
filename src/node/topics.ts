/**
 * Topics: which connections of a server want which topics, and publishing to them. A message is
 * serialized once (one unmasked frame, never compressed) and the same bytes are written to every
 * subscriber through `WebSocket.sendFrame`, under each connection's backpressure policy: a slow
 * subscriber gets the slow-consumer treatment (close with 1013, or drop), never a queue of its own.
 * With a broker, the server tells it the topics its connections want and publishes through it.
 */
import { Opcode } from '../protocol/constants.js';
import { encodeFrame } from '../protocol/serializer.js';
import type { Broker, BrokerLink, BrokerSink } from './broker.js';
import type { Data, WebSocket } from './websocket.js';

export interface PublishOptions {
  /** Send as a binary message; by default strings are text and everything else binary. */
  binary?: boolean;
}

/** The topics of a connection that subscribed to any. */
const topicsOf = new WeakMap<WebSocket, Set<string>>();

export class PubSub implements BrokerSink {
  private readonly subscribers = new Map<string, Set<WebSocket>>();
  private readonly link: BrokerLink | null;
  private closed = false;

  constructor(broker?: Broker) {
    this.link = broker ? broker.connect(this) : null;
  }

  subscribe(ws: WebSocket, topic: string): boolean {
    checkTopic(topic);
    if (ws.readyState !== ws.OPEN || this.closed) return false;
    let mine = topicsOf.get(ws);
    if (!mine) {
      topicsOf.set(ws, (mine = new Set()));
      ws.once('close', () => this.leaveAll(ws));
    }
    if (mine.has(topic)) return false;
    mine.add(topic);
    let set = this.subscribers.get(topic);
    if (!set) {
      this.subscribers.set(topic, (set = new Set()));
      this.link?.subscribe(topic);
    }
    set.add(ws);
    return true;
  }

  unsubscribe(ws: WebSocket, topic: string): boolean {
    const mine = topicsOf.get(ws);
    if (!mine || !mine.delete(topic)) return false;
    const set = this.subscribers.get(topic)!;
    set.delete(ws);
    if (set.size === 0) {
      this.subscribers.delete(topic);
      this.link?.unsubscribe(topic);
    }
    return true;
  }

  private leaveAll(ws: WebSocket): void {
    const mine = topicsOf.get(ws);
    if (!mine) return;
    for (const topic of [...mine]) this.unsubscribe(ws, topic);
  }

  /** How many local connections subscribe to `topic`. */
  subscriberCount(topic: string): number {
    return this.subscribers.get(topic)?.size ?? 0;
  }

  /** Publishes to the local subscribers at once, then through the broker to the other servers. */
  publish(topic: string, data: Data, options?: PublishOptions): number {
    checkTopic(topic);
    const isBinary = options?.binary ?? typeof data !== 'string';
    const payload = toBuffer(data);
    const count = this.deliverLocally(topic, payload, isBinary);
    this.link?.publish(topic, payload, isBinary);
    return count;
  }

  /** Sends one message, serialized once, to every connection in `clients`. */
  broadcast(clients: Iterable<WebSocket>, data: Data, options?: PublishOptions): number {
    const isBinary = options?.binary ?? typeof data !== 'string';
    const payload = toBuffer(data);
    return writeToAll(clients, payload, isBinary);
  }

  /** BrokerSink: a message another server published. */
  deliver(topic: string, data: Buffer, isBinary: boolean): void {
    this.deliverLocally(topic, data, isBinary);
  }

  private deliverLocally(topic: string, payload: Buffer, isBinary: boolean): number {
    const set = this.subscribers.get(topic);
    if (!set) return 0;
    return writeToAll(set, payload, isBinary);
  }

  /** The server is closing: stop taking subscriptions and let the broker forget this server. */
  close(): void | Promise<void> {
    if (this.closed) return;
    this.closed = true;
    return this.link?.close();
  }
}

function writeToAll(clients: Iterable<WebSocket>, payload: Buffer, isBinary: boolean): number {
  const frame = encodeFrame(isBinary ? Opcode.Binary : Opcode.Text, payload, true, false, false);
  const size = payload.length;
  let count = 0;
  for (const ws of clients) {
    ws.sendFrame(frame, size);
    count++;
  }
  return count;
}

/** `ws.topics`: a read-only view of the connection's topics. */
export function topicsView(ws: WebSocket): ReadonlySet<string> {
  return new TopicsView(() => topicsOf.get(ws) ?? EMPTY);
}

const EMPTY: ReadonlySet<string> = new Set<string>();

class TopicsView implements ReadonlySet<string> {
  constructor(private readonly set: () => ReadonlySet<string>) {}
  get size(): number {
    return this.set().size;
  }
  has(topic: string): boolean {
    return this.set().has(topic);
  }
  forEach(fn: (value: string, key: string, set: ReadonlySet<string>) => void, thisArg?: unknown): void {
    for (const topic of [...this.set()]) fn.call(thisArg, topic, topic, this);
  }
  entries(): SetIterator<[string, string]> {
    return new Set(this.set()).entries();
  }
  keys(): SetIterator<string> {
    return new Set(this.set()).keys();
  }
  values(): SetIterator<string> {
    return new Set(this.set()).values();
  }
  [Symbol.iterator](): SetIterator<string> {
    return this.values();
  }
  get [Symbol.toStringTag](): string {
    return 'TopicSet';
  }
}

function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || topic.length === 0) throw new TypeError('A topic is a non-empty string');
}

function toBuffer(data: Data): Buffer {
  if (typeof data === 'string') return Buffer.from(data);
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('publish() takes a string, Buffer, ArrayBuffer or typed array');
}
