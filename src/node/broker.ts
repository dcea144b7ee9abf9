/**
 * The broker a WebSocketServer publishes through, so that a message published on one server
 * reaches the subscribers of every server. A broker is a hub; each server connects to it once and
 * gets a link of its own. The server tells its link which topics its connections want (the first
 * subscriber of a topic, the last one leaving), and the broker hands it messages that other
 * servers published. A server delivers its own publications locally at once: a broker must never
 * hand a link back what that link published.
 *
 * Topics with history are the exception: the broker stores the message first (`append`), which
 * gives it its position, and then hands it to every link, the publisher's included, through
 * `deliverAt` — so every server delivers one order, the broker's. `read` is how a server resumes
 * a subscriber from a position. Both are optional: a broker without them serves topics without
 * history only.
 */
import type { HistoryOptions, HistoryRead, Position } from './history.js';
import { Ring } from './ring.js';

/** What a server gives the broker: where messages from other servers go. */
export interface BrokerSink {
  deliver(topic: string, data: Buffer, isBinary: boolean): void;
  /** A message of a topic with history, at its position (every link gets it, the publisher's too). */
  deliverAt?(topic: string, data: Buffer, isBinary: boolean, position: Position): void;
  /** Live messages may have been missed (the broker's connection came back): read history to fill in. */
  resync?(): void;
}

/** One server's connection to a broker. Methods do not throw (but `append`, see there); brokers report failures themselves. */
export interface BrokerLink {
  /** Sends a message to the other servers (this server has delivered it locally already). */
  publish(topic: string, data: Buffer, isBinary: boolean): void;
  /** Some local connection wants this topic (called when the first one subscribes). */
  subscribe(topic: string): void;
  /** No local connection wants this topic any more. */
  unsubscribe(topic: string): void;
  /** The server is closing: forget its topics and stop delivering to it. */
  close(): void | Promise<void>;
  /**
   * Stores a message in the topic's history, then delivers it to every link through `deliverAt`.
   * Resolves with its position once stored; rejects with a PublishError if it was not, and throws
   * one at once when the broker knows it cannot store (no connection): nothing is queued.
   */
  append?(topic: string, data: Buffer, isBinary: boolean, history: HistoryOptions): Promise<Position>;
  /** The topic's epoch and last offset, and (with `since`) the entries a subscriber at `since` missed. */
  read?(topic: string, since: Position | null, history: HistoryOptions): Promise<HistoryRead>;
}

export interface Broker {
  connect(sink: BrokerSink): BrokerLink;
}

/**
 * The in-process broker: servers of one process that share an instance share their topics (a
 * plain and a TLS server, say). A server without a `broker` option publishes to its own
 * connections only.
 */
export class LocalBroker implements Broker {
  private readonly topics = new Map<string, Set<LocalLink>>();
  /** Topic → its history ring (made at the first publish or read with history). */
  private readonly rings = new Map<string, Ring>();

  connect(sink: BrokerSink): BrokerLink {
    return new LocalLink(this.topics, this.rings, sink);
  }
}

class LocalLink implements BrokerLink {
  private readonly wanted = new Set<string>();

  constructor(
    private readonly topics: Map<string, Set<LocalLink>>,
    private readonly rings: Map<string, Ring>,
    private readonly sink: BrokerSink,
  ) {}

  append(topic: string, data: Buffer, isBinary: boolean, history: HistoryOptions): Promise<Position> {
    const position = this.ring(topic, history).push(data, isBinary);
    // Synchronous like publish(): every server of the process has it before append returns.
    for (const link of this.topics.get(topic) ?? []) link.sink.deliverAt?.(topic, data, isBinary, position);
    return Promise.resolve(position);
  }

  read(topic: string, since: Position | null, history: HistoryOptions): Promise<HistoryRead> {
    return Promise.resolve(this.ring(topic, history).read(since));
  }

  private ring(topic: string, history: HistoryOptions): Ring {
    let ring = this.rings.get(topic);
    if (!ring) this.rings.set(topic, (ring = new Ring(history)));
    return ring;
  }

  publish(topic: string, data: Buffer, isBinary: boolean): void {
    const links = this.topics.get(topic);
    if (!links) return;
    for (const link of links) if (link !== this) link.sink.deliver(topic, data, isBinary);
  }

  subscribe(topic: string): void {
    if (this.wanted.has(topic)) return;
    this.wanted.add(topic);
    let links = this.topics.get(topic);
    if (!links) this.topics.set(topic, (links = new Set()));
    links.add(this);
  }

  unsubscribe(topic: string): void {
    if (!this.wanted.delete(topic)) return;
    const links = this.topics.get(topic)!;
    links.delete(this);
    if (links.size === 0) this.topics.delete(topic);
  }

  close(): void {
    for (const topic of [...this.wanted]) this.unsubscribe(topic);
  }
}
