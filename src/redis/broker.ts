/**
 * A broker over Redis pub/sub, for servers in several processes or on several machines. Each
 * topic is a Redis channel (`prefix + topic`), subscribed to only while some local connection
 * wants the topic. Messages carry the publishing server's id: a server has already delivered its
 * own messages locally, so it skips them when Redis hands them back. Order per publisher is
 * Redis's: one publishing connection, commands in order.
 *
 * Wire format of a message (binary-safe, 10 bytes before the payload):
 *   byte 0   version (1)
 *   byte 1   flags: bit 0 = binary message
 *   2..9     the publishing server's id (8 random bytes)
 *   10..     the payload as sent
 *
 * Topics with history (history.ts, scripts.ts) live in Redis Streams: a Lua script takes the next
 * offset, appends to the topic's stream and publishes a version-2 message on the same channel in
 * one atomic step. Every server, the publisher's included, delivers those from the channel: one
 * order for all. A resume reads the stream, after this server's SUBSCRIBE to the channel is
 * confirmed, so that nothing stored after the read can miss the live path.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Broker, BrokerLink, BrokerSink } from '../node/broker.js';
import type { HistoryOptions, HistoryRead, Position } from '../node/history.js';
import { RedisHistory } from './history.js';
import { detectFlavor, publisherAdapter, subscriberAdapter, type PublisherAdapter, type RedisFlavor, type SubscriberAdapter } from './clients.js';

export interface RedisBrokerOptions {
  /** A connected client for PUBLISH (node-redis `createClient()`, or ioredis `new Redis()`). */
  publisher: unknown;
  /**
   * A second connected client, used for SUBSCRIBE only (Redis puts a subscribing connection in a
   * mode where it runs nothing else): node-redis `publisher.duplicate()`, or another `new Redis()`.
   */
  subscriber: unknown;
  /** Prepended to every topic to make the channel name (default 'rfc6455:'). */
  prefix?: string;
  /** Which library the clients come from, if detection cannot tell. */
  flavor?: RedisFlavor;
}

export interface RedisBrokerEventMap {
  /** A PUBLISH or (UN)SUBSCRIBE failed. Emitted only when listened to. */
  error: [error: Error];
  /**
   * The subscriber connection is ready again and the wanted channels were subscribed to again;
   * topics with history then read what they missed meanwhile.
   */
  resubscribed: [channels: number];
}

const VERSION = 1;
const VERSION_HISTORY = 2;
const HEADER = 10;
const ID_LENGTH = 8;

export class RedisBroker extends EventEmitter<RedisBrokerEventMap> implements Broker {
  readonly prefix: string;
  readonly flavor: RedisFlavor;
  private readonly publisher: PublisherAdapter;
  private readonly subscriber: SubscriberAdapter;
  /** Channel → the links (servers of this process) that want it. */
  private readonly channels = new Map<string, Set<RedisLink>>();
  private readonly links = new Set<RedisLink>();
  /** Channel → its SUBSCRIBE, until confirmed: a history read waits for it. */
  private readonly subscribing = new Map<string, Promise<unknown>>();
  private readonly history: RedisHistory;
  private attached = false;

  constructor(options: RedisBrokerOptions) {
    super();
    if (!options || !options.publisher || !options.subscriber) {
      throw new TypeError('RedisBroker needs two connected clients: { publisher, subscriber }');
    }
    if (options.publisher === options.subscriber) {
      throw new TypeError('The subscriber must be a connection of its own (node-redis: publisher.duplicate(); ioredis: another new Redis())');
    }
    this.flavor = options.flavor ?? detectFlavor(options.subscriber);
    this.prefix = options.prefix ?? 'rfc6455:';
    this.publisher = publisherAdapter(options.publisher, options.flavor ?? detectFlavor(options.publisher));
    this.subscriber = subscriberAdapter(options.subscriber, this.flavor);
    this.history = new RedisHistory(this.publisher, this.prefix);
  }

  connect(sink: BrokerSink): BrokerLink {
    if (!this.attached) {
      this.attached = true;
      this.subscriber.attach(this.onMessage, this.onReady);
    }
    const link = new RedisLink(this, sink, randomBytes(ID_LENGTH));
    this.links.add(link);
    return link;
  }

  /** The channels this process subscribes to, for inspection. */
  subscribedChannels(): string[] {
    return [...this.channels.keys()];
  }

  /** @internal */
  publish(link: RedisLink, topic: string, data: Buffer, isBinary: boolean): void {
    const envelope = Buffer.allocUnsafe(HEADER + data.length);
    envelope[0] = VERSION;
    envelope[1] = isBinary ? 1 : 0;
    link.id.copy(envelope, 2);
    data.copy(envelope, HEADER);
    // Other servers of this process get it back from Redis too, in the same order as everyone.
    this.publisher.publish(this.prefix + topic, envelope).catch(this.report);
  }

  /** @internal Throws a PublishError when Redis is not connected (see RedisHistory.append). */
  append(topic: string, data: Buffer, isBinary: boolean, history: HistoryOptions): Promise<Position> {
    return this.history.append(topic, this.prefix + topic, data, isBinary, history);
  }

  /** @internal */
  async read(topic: string, since: Position | null, history: HistoryOptions): Promise<HistoryRead> {
    await this.subscribing.get(this.prefix + topic);
    return this.history.read(topic, since, history);
  }

  /** @internal */
  want(link: RedisLink, topic: string): void {
    const channel = this.prefix + topic;
    let set = this.channels.get(channel);
    if (!set) {
      this.channels.set(channel, (set = new Set()));
      this.subscribeTo(channel);
    }
    set.add(link);
  }

  private subscribeTo(channel: string): Promise<unknown> {
    const done = this.subscriber.subscribe(channel).then(
      () => {
        if (this.subscribing.get(channel) === done) this.subscribing.delete(channel);
      },
      (error: unknown) => {
        this.report(error);
        // This read fails (and is retried, without waiting again): the channel is subscribed
        // again when the connection is back, and feeds catch up then (onReady).
        if (this.subscribing.get(channel) === done) this.subscribing.delete(channel);
        throw error;
      },
    );
    done.catch(() => {});
    this.subscribing.set(channel, done);
    return done;
  }

  /** @internal */
  unwant(link: RedisLink, topic: string): void {
    const channel = this.prefix + topic;
    const set = this.channels.get(channel);
    if (!set || !set.delete(link) || set.size > 0) return;
    this.channels.delete(channel);
    this.subscriber.unsubscribe(channel).catch(this.report);
  }

  /** @internal */
  drop(link: RedisLink): void {
    this.links.delete(link);
    if (this.links.size === 0 && this.attached) {
      this.attached = false;
      this.subscriber.detach();
    }
  }

  private readonly onMessage = (channel: string, message: Buffer) => {
    const links = this.channels.get(channel);
    if (!links) return;
    if (message[0] === VERSION_HISTORY) return this.onStored(links, channel, message);
    if (message.length < HEADER || message[0] !== VERSION) return;
    const origin = message.subarray(2, HEADER);
    const isBinary = (message[1] & 1) === 1;
    const data = message.subarray(HEADER);
    const topic = channel.slice(this.prefix.length);
    for (const link of links) if (!link.id.equals(origin)) link.sink.deliver(topic, data, isBinary);
  };

  /** A message of a topic with history: to every link, the publisher's included. */
  private onStored(links: Set<RedisLink>, channel: string, message: Buffer): void {
    const end = message.indexOf(0x0a, 2);
    const colon = message.lastIndexOf(0x3a, end);
    if (end < 0 || colon < 2) return;
    const position = { epoch: message.toString('latin1', 2, colon), offset: Number(message.toString('latin1', colon + 1, end)) };
    const isBinary = message[1] === 0x31;
    const data = message.subarray(end + 1);
    const topic = channel.slice(this.prefix.length);
    for (const link of links) link.sink.deliverAt?.(topic, data, isBinary, position);
  }

  /**
   * After a reconnection, subscribe again to every channel still wanted; then topics with history
   * read what was stored while this process was not listening.
   */
  private readonly onReady = () => {
    const channels = [...this.channels.keys()];
    if (channels.length === 0) return;
    Promise.all(channels.map((channel) => this.subscribeTo(channel))).then(() => {
      this.emit('resubscribed', channels.length);
      for (const link of this.links) link.sink.resync?.();
    }, this.report);
  };

  private readonly report = (error: unknown) => {
    if (this.listenerCount('error') > 0) this.emit('error', error instanceof Error ? error : new Error(String(error)));
  };
}

class RedisLink implements BrokerLink {
  private readonly wanted = new Set<string>();
  private closed = false;

  constructor(
    private readonly broker: RedisBroker,
    readonly sink: BrokerSink,
    readonly id: Buffer,
  ) {}

  publish(topic: string, data: Buffer, isBinary: boolean): void {
    if (!this.closed) this.broker.publish(this, topic, data, isBinary);
  }

  append(topic: string, data: Buffer, isBinary: boolean, history: HistoryOptions): Promise<Position> {
    return this.broker.append(topic, data, isBinary, history);
  }

  read(topic: string, since: Position | null, history: HistoryOptions): Promise<HistoryRead> {
    return this.broker.read(topic, since, history);
  }

  subscribe(topic: string): void {
    if (this.closed || this.wanted.has(topic)) return;
    this.wanted.add(topic);
    this.broker.want(this, topic);
  }

  unsubscribe(topic: string): void {
    if (!this.wanted.delete(topic)) return;
    this.broker.unwant(this, topic);
  }

  close(): void {
    if (this.closed) return;
    for (const topic of [...this.wanted]) this.unsubscribe(topic);
    this.closed = true;
    this.broker.drop(this);
  }
}
