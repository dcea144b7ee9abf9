/**
 * One protocol connection's subscription to one topic with history, and the resume hand-over.
 *
 * The hand-over, in order: (1) the session joins the topic's feed before anything is read, holding
 * what the feed passes on instead of sending it; (2) history is read — everything stored up to
 * the read is in it, everything stored after reaches the feed, and what is both is dropped by
 * offset; (3) the session answers `subscribed` (recovered or not), sends the missed entries, then
 * releases what it held. From then on each message goes out at once, once: an offset at or below
 * the last one sent is a duplicate and dropped, one that skips ahead (or a new epoch) goes out
 * after a `gap` saying where the sequence starts again.
 */
import { protocolFrame, type Feed, type FeedMessage, type FeedSubscriber, type Reader, type SharedSource } from './feed.js';
import type { Position } from './history.js';
import { encode, type ServerEvent } from './topics-wire.js';
import type { WebSocket } from './websocket.js';

export class TopicSession implements FeedSubscriber {
  private epoch = '';
  private last = 0;
  private held: FeedMessage[] | null = [];
  private ended = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly feed: Feed,
    private readonly id: number | undefined,
  ) {
    feed.sessions.add(this);
  }

  /** Step 2 and 3: read history from `since` (or only where it stands) and hand over to live. */
  start(since: Position | null, read: Reader, retryDelay = 250): void {
    const attempt = () => {
      if (this.ended) return;
      read(since).then(
        (history) => {
          if (this.ended) return;
          this.feed.know(history.epoch, history.last);
          const first = history.entries[0]?.offset;
          // Recovered: same epoch, nothing trimmed between `since` and what history holds, and
          // the store not behind the client (it would hand out offsets the client already has).
          const recovered =
            since !== null &&
            since.epoch === history.epoch &&
            history.last >= since.offset &&
            (first === undefined ? history.last === since.offset : first === since.offset + 1);
          const reply: ServerEvent = { $topics: 'subscribed', topic: this.feed.topic, id: this.id, history: true, epoch: history.epoch };
          if (since === null) {
            this.last = history.last;
            reply.offset = history.last;
          } else if (recovered) {
            this.last = since.offset;
            reply.offset = since.offset;
            reply.recovered = true;
          } else {
            const next = first ?? history.last + 1;
            this.last = next - 1;
            reply.offset = since.offset;
            reply.recovered = false;
            reply.next = next;
          }
          this.epoch = history.epoch;
          this.ws.send(encode(reply));
          // Replayed frames are the feed's, shared by every session replaying the same read.
          const replay = { entry: history.entries[0], sharedFrame: () => this.feed.replayFrame(replay.entry, history.epoch) };
          for (const entry of history.entries) {
            replay.entry = entry;
            this.deliver({ ...entry, epoch: history.epoch }, replay);
          }
          const held = this.held ?? [];
          this.held = null;
          for (const message of held) this.deliver(message, null);
        },
        // The store is away: keep holding live messages (there are none without it) and retry.
        () => setTimeout(attempt, retryDelay).unref(),
      );
    };
    attempt();
  }

  receive(message: FeedMessage, shared: SharedSource): void {
    if (this.held) this.held.push(message);
    else this.deliver(message, shared);
  }

  restart(epoch: string, next: number): void {
    // A session still resuming will see the new epoch in its own read, or in what it held.
    if (this.held || this.ended || epoch === this.epoch) return;
    this.ws.send(encode({ $topics: 'gap', topic: this.feed.topic, epoch, next }));
    this.epoch = epoch;
    this.last = next - 1;
  }

  end(): void {
    this.ended = true;
    this.held = null;
    this.feed.sessions.delete(this);
  }

  private deliver(message: FeedMessage, shared: SharedSource | null): void {
    if (this.ended) return;
    if (message.epoch === this.epoch && message.offset <= this.last) return;
    if (message.epoch !== this.epoch || message.offset !== this.last + 1) {
      this.ws.send(encode({ $topics: 'gap', topic: this.feed.topic, epoch: message.epoch, next: message.offset }));
    }
    this.epoch = message.epoch;
    this.last = message.offset;
    // Live: the frame every session shares; replayed: one of its own.
    const { frame: bytes, size } = shared ? shared.sharedFrame() : protocolFrame(this.feed.topic, message);
    this.ws.sendFrame(bytes, size);
  }
}
