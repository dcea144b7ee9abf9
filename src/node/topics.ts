/**
 * Topics: which connections of a server want which topics, and publishing to them. A message is
 * serialized once (one unmasked frame, never compressed) and the same bytes are written to every
 * subscriber through `WebSocket.sendFrame`, under each connection's backpressure policy: a slow
 * subscriber gets the slow-consumer treatment (close with 1013, or drop), never a queue of its own.
 * With a broker, the server tells it the topics its connections want and publishes through it.
 *
 * Topics with history (the `history` option) go through the broker's store instead: publishing
 * appends, and every server (this one too) delivers what the broker hands back, at its position,
 * through the topic's Feed. Connections of the rfc6455.topics.v1 subprotocol subscribe themselves
 * and resume from a position (topics-protocol.ts, topic-session.ts).
 */
import { Opcode } from '../protocol/constants.js';
import { encodeFrame } from '../protocol/serializer.js';
import { LocalBroker, type Broker, type BrokerLink, type BrokerSink } from './broker.js';
import { Feed } from './feed.js';
import { historyFor, PublishError, type HistoryOption, type HistoryOptions, type Position } from './history.js';
import { TopicSession } from './topic-session.js';
import { TopicsProtocol, type AuthorizeTopic, type SessionHost } from './topics-protocol.js';
import { encode, encodeMessage } from './topics-wire.js';
import type { Data, WebSocket } from './websocket.js';

export interface PublishOptions {
  /** Send as a binary message; by default strings are text and everything else binary. */
  binary?: boolean;
  /**
   * Topics with history: called once the broker has stored the message (with its position) or
   * failed to (a PublishError: no subscriber gets it). Ignored for topics without history.
   */
  callback?: (error: Error | null, position?: Position) => void;
}

export interface TopicsOptions {
  history?: HistoryOption;
  authorizeTopic?: AuthorizeTopic;
}

/** The topics of a connection that subscribed to any. */
const topicsOf = new WeakMap<WebSocket, Set<string>>();

/** A protocol subscription: to a topic with history (a session), or without (live only). */
type Subscription = TopicSession | 'live';

export class PubSub implements BrokerSink, SessionHost {
  private readonly subscribers = new Map<string, Set<WebSocket>>();
  /** Protocol subscribers of topics without history: they get the protocol frame, no position. */
  private readonly liveSessions = new Map<string, Set<WebSocket>>();
  /** Protocol subscriptions of each connection. */
  private readonly sessionsOf = new WeakMap<WebSocket, Map<string, Subscription>>();
  /** Topics with history that some local connection wants. */
  private readonly feeds = new Map<string, Feed>();
  /** How many local subscriptions (plain and protocol) each topic has: the broker's interest. */
  private readonly interest = new Map<string, number>();
  private readonly link: BrokerLink | null;
  private readonly history: HistoryOption | undefined;
  private readonly protocol: TopicsProtocol;
  private closed = false;

  constructor(broker?: Broker, options: TopicsOptions = {}) {
    this.history = options.history;
    // History needs a store: alone, a server keeps it in a LocalBroker of its own.
    if (!broker && options.history) broker = new LocalBroker();
    this.link = broker ? broker.connect(this) : null;
    if (options.history && (!this.link?.append || !this.link.read)) {
      throw new TypeError('The history option needs a broker that stores history (LocalBroker, RedisBroker)');
    }
    this.protocol = new TopicsProtocol(this, options.authorizeTopic);
  }

  /** A new connection: it speaks rfc6455.topics.v1 if it negotiated it. */
  accept(ws: WebSocket): void {
    this.protocol.accept(ws);
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
    if (!set) this.subscribers.set(topic, (set = new Set()));
    set.add(ws);
    this.want(topic);
    return true;
  }

  unsubscribe(ws: WebSocket, topic: string): boolean {
    const mine = topicsOf.get(ws);
    if (!mine || !mine.delete(topic)) return false;
    const set = this.subscribers.get(topic)!;
    set.delete(ws);
    if (set.size === 0) this.subscribers.delete(topic);
    this.unwant(topic);
    return true;
  }

  /** SessionHost: a protocol `subscribe`, authorized. */
  join(ws: WebSocket, topic: string, since: Position | null, id: number | undefined): void {
    if (ws.readyState !== ws.OPEN || this.closed) return;
    let mine = this.sessionsOf.get(ws);
    if (!mine) {
      this.sessionsOf.set(ws, (mine = new Map()));
      ws.once('close', () => this.leaveAll(ws));
    }
    // Subscribing again (to resume from another position) replaces the subscription.
    if (mine.has(topic)) this.leave(ws, topic);
    const history = historyFor(this.history, topic);
    this.want(topic);
    if (!history) {
      mine.set(topic, 'live');
      let set = this.liveSessions.get(topic);
      if (!set) this.liveSessions.set(topic, (set = new Set()));
      set.add(ws);
      return void ws.send(encode({ $topics: 'subscribed', topic, id, history: false }));
    }
    const feed = this.feeds.get(topic)!;
    const session = new TopicSession(ws, feed, id);
    mine.set(topic, session);
    session.start(since, (from) => feed.sharedRead(from));
  }

  /** SessionHost: a protocol `unsubscribe` (or the connection closed). */
  leave(ws: WebSocket, topic: string): boolean {
    const mine = this.sessionsOf.get(ws);
    const subscription = mine?.get(topic);
    if (!subscription) return false;
    mine!.delete(topic);
    if (subscription === 'live') {
      const set = this.liveSessions.get(topic)!;
      set.delete(ws);
      if (set.size === 0) this.liveSessions.delete(topic);
    } else {
      subscription.end();
    }
    this.unwant(topic);
    return true;
  }

  private leaveAll(ws: WebSocket): void {
    for (const topic of [...(topicsOf.get(ws) ?? [])]) this.unsubscribe(ws, topic);
    for (const topic of [...(this.sessionsOf.get(ws)?.keys() ?? [])]) this.leave(ws, topic);
  }

  /** One more local subscription: the first tells the broker, and opens the feed of a history topic. */
  private want(topic: string): void {
    const count = this.interest.get(topic) ?? 0;
    this.interest.set(topic, count + 1);
    if (count > 0) return;
    const history = historyFor(this.history, topic);
    if (history) this.feeds.set(topic, this.openFeed(topic, history));
    this.link?.subscribe(topic);
  }

  private unwant(topic: string): void {
    const count = this.interest.get(topic)! - 1;
    if (count > 0) return void this.interest.set(topic, count);
    this.interest.delete(topic);
    this.feeds.get(topic)?.close();
    this.feeds.delete(topic);
    this.link?.unsubscribe(topic);
  }

  private openFeed(topic: string, history: HistoryOptions): Feed {
    return new Feed(topic, () => this.subscribers.get(topic), (since) => this.link!.read!(topic, since, history));
  }

  /** How many local connections subscribe to `topic` (plainly or through the protocol). */
  subscriberCount(topic: string): number {
    return this.interest.get(topic) ?? 0;
  }

  /**
   * Publishes to the local subscribers at once, then through the broker to the other servers.
   * A topic with history is stored first, and delivered everywhere once it is (see `callback`);
   * when the broker knows it cannot store (Redis unreachable), this throws a PublishError.
   */
  publish(topic: string, data: Data, options?: PublishOptions): number {
    checkTopic(topic);
    const isBinary = options?.binary ?? typeof data !== 'string';
    const payload = toBuffer(data);
    const history = historyFor(this.history, topic);
    if (history) return this.append(topic, payload, isBinary, history, options?.callback);
    const count = this.deliverLocally(topic, payload, isBinary);
    this.link?.publish(topic, payload, isBinary);
    return count;
  }

  private append(topic: string, payload: Buffer, isBinary: boolean, history: HistoryOptions, callback: PublishOptions['callback']): number {
    if (this.closed) throw new PublishError('The server is closed');
    // May throw a PublishError (the broker knows it cannot store): the caller hears at once.
    const stored = this.link!.append!(topic, payload, isBinary, history);
    // Without a callback nobody waits for the outcome: spare the two closures per publish.
    if (!callback) stored.catch(ignore);
    else {
      stored.then(
        (position) => callback(null, position),
        (error: unknown) => callback(error instanceof PublishError ? error : new PublishError(String((error as Error)?.message ?? error))),
      );
    }
    return this.subscriberCount(topic);
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

  /** BrokerSink: a message of a topic with history, from any server (this one's too). */
  deliverAt(topic: string, data: Buffer, isBinary: boolean, position: Position): void {
    this.feeds.get(topic)?.offer({ offset: position.offset, epoch: position.epoch, data, isBinary });
  }

  /** BrokerSink: the broker's connection came back; every feed reads what it may have missed. */
  resync(): void {
    for (const feed of this.feeds.values()) feed.resync();
  }

  private deliverLocally(topic: string, payload: Buffer, isBinary: boolean): number {
    let count = 0;
    const set = this.subscribers.get(topic);
    if (set) count += writeToAll(set, payload, isBinary);
    const sessions = this.liveSessions.get(topic);
    if (sessions) {
      const message = encodeMessage(topic, payload, isBinary, null);
      const frame = encodeFrame(Opcode.Text, message, true, false, false);
      for (const ws of sessions) ws.sendFrame(frame, message.length);
      count += sessions.size;
    }
    return count;
  }

  /** The server is closing: stop taking subscriptions and let the broker forget this server. */
  close(): void | Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const feed of this.feeds.values()) feed.close();
    return this.link?.close();
  }
}

const ignore = () => {};

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
