/**
 * The broker a WebSocketServer publishes through, so that a message published on one server
 * reaches the subscribers of every server. A broker is a hub; each server connects to it once and
 * gets a link of its own. The server tells its link which topics its connections want (the first
 * subscriber of a topic, the last one leaving), and the broker hands it messages that other
 * servers published. A server delivers its own publications locally at once: a broker must never
 * hand a link back what that link published.
 */

/** What a server gives the broker: where messages from other servers go. */
export interface BrokerSink {
  deliver(topic: string, data: Buffer, isBinary: boolean): void;
}

/** One server's connection to a broker. Methods do not throw; brokers report failures themselves. */
export interface BrokerLink {
  /** Sends a message to the other servers (this server has delivered it locally already). */
  publish(topic: string, data: Buffer, isBinary: boolean): void;
  /** Some local connection wants this topic (called when the first one subscribes). */
  subscribe(topic: string): void;
  /** No local connection wants this topic any more. */
  unsubscribe(topic: string): void;
  /** The server is closing: forget its topics and stop delivering to it. */
  close(): void | Promise<void>;
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

  connect(sink: BrokerSink): BrokerLink {
    return new LocalLink(this.topics, sink);
  }
}

class LocalLink implements BrokerLink {
  private readonly wanted = new Set<string>();

  constructor(
    private readonly topics: Map<string, Set<LocalLink>>,
    private readonly sink: BrokerSink,
  ) {}

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
