/**
 * The client side of rfc6455.topics.v1, without I/O: the topics a client wants, the last
 * position it got on each, the frames that subscribe again from there after a reconnection, and
 * what to make of the server's protocol frames. It delivers each offset once and in order — a
 * duplicate (at or below the last offset, same epoch) is dropped, a jump is reported as a gap —
 * whichever server the frames come from. ReconnectingWebSocket (and examples/browser/) use it.
 */
import type { Position } from './history.js';
import { encode, parseControl, type ServerEvent } from './topics-wire.js';

export interface TopicMessage {
  topic: string;
  data: Buffer;
  isBinary: boolean;
  /** Its position, on a topic with history. */
  offset?: number;
  epoch?: string;
}

export interface GapInfo {
  topic: string;
  /** Where the client was (null if it had no position): what came after it up to `next` is lost. */
  lost: Position | null;
  /** The offset of the next message it will get. */
  next: number;
  epoch: string;
}

export interface SubscribedInfo {
  topic: string;
  /** Whether the server keeps history (and positions) for the topic. */
  history: boolean;
  /** Resumed from a position without losing anything; undefined for a fresh subscription. */
  recovered?: boolean;
  position: Position | null;
}

export type TopicEvent =
  | { type: 'topic'; message: TopicMessage }
  | { type: 'gap'; gap: GapInfo }
  | { type: 'subscribed'; info: SubscribedInfo }
  | { type: 'refused'; topic: string | undefined; reason: string };

export class TopicTracker {
  /** Wanted topics → the last position delivered (null: none yet). */
  private readonly wanted = new Map<string, Position | null>();

  /** Remembers the topic (from `since`, when given) and returns the frame that subscribes to it. */
  subscribe(topic: string, since?: Position | null): string {
    if (since !== undefined || !this.wanted.has(topic)) this.wanted.set(topic, since ?? null);
    return this.frame(topic);
  }

  unsubscribe(topic: string): string | null {
    return this.wanted.delete(topic) ? encode({ $topics: 'unsubscribe', topic }) : null;
  }

  position(topic: string): Position | null {
    return this.wanted.get(topic) ?? null;
  }

  topics(): string[] {
    return [...this.wanted.keys()];
  }

  /** On every new connection: subscribe again to each topic, from its last position. */
  resumeFrames(): string[] {
    return this.topics().map((topic) => this.frame(topic));
  }

  private frame(topic: string): string {
    const since = this.wanted.get(topic);
    return encode(since ? { $topics: 'subscribe', topic, since } : { $topics: 'subscribe', topic });
  }

  /** A protocol frame from the server: what the application should hear of it. */
  handle(data: Buffer | string): TopicEvent[] {
    const event = parseControl<ServerEvent>(data);
    if (!event) return [];
    switch (event.$topics) {
      case 'message':
        return this.message(event);
      case 'subscribed':
        return this.subscribed(event);
      case 'gap':
        return this.gap(event.topic, event.epoch, event.next);
      case 'error':
        if (event.topic !== undefined && event.reason === 'forbidden') this.wanted.delete(event.topic);
        return [{ type: 'refused', topic: event.topic, reason: String(event.reason) }];
      default:
        return [];
    }
  }

  private message(event: Extract<ServerEvent, { $topics: 'message' }>): TopicEvent[] {
    const { topic, offset, epoch } = event;
    if (!this.wanted.has(topic)) return [];
    const isBinary = event.b64 !== undefined;
    const data = isBinary ? Buffer.from(event.b64!, 'base64') : Buffer.from(event.data ?? '');
    if (offset === undefined || epoch === undefined) return [{ type: 'topic', message: { topic, data, isBinary } }];
    const events: TopicEvent[] = [];
    const last = this.wanted.get(topic);
    if (last && last.epoch === epoch && offset <= last.offset) return events;
    // The server announces gaps; this catches one it could not (and keeps the count honest).
    if (last && (last.epoch !== epoch || offset !== last.offset + 1)) events.push(...this.gap(topic, epoch, offset));
    this.wanted.set(topic, { offset, epoch });
    events.push({ type: 'topic', message: { topic, data, isBinary, offset, epoch } });
    return events;
  }

  private subscribed(event: Extract<ServerEvent, { $topics: 'subscribed' }>): TopicEvent[] {
    const { topic } = event;
    if (!this.wanted.has(topic)) return [];
    const events: TopicEvent[] = [];
    if (event.history && event.epoch !== undefined && event.offset !== undefined) {
      if (event.recovered === false) events.push(...this.gap(topic, event.epoch, event.next ?? event.offset + 1, true));
      else if (event.recovered === undefined) this.wanted.set(topic, { offset: event.offset, epoch: event.epoch });
    }
    const position = this.wanted.get(topic) ?? null;
    events.push({ type: 'subscribed', info: { topic, history: event.history, recovered: event.recovered, position } });
    return events;
  }

  /** `force`: the server could not resume (its store may even be behind the client): start again at `next`. */
  private gap(topic: string, epoch: string, next: number, force = false): TopicEvent[] {
    if (!this.wanted.has(topic)) return [];
    const lost = this.wanted.get(topic) ?? null;
    // Only a real jump: a gap announced for where the client already is changes nothing.
    if (!force && lost && lost.epoch === epoch && lost.offset + 1 >= next) return [];
    this.wanted.set(topic, { offset: next - 1, epoch });
    return [{ type: 'gap', gap: { topic, lost, next, epoch } }];
  }
}
