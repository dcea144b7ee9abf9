/**
 * One topic with history on one server: the broker's messages in, one unbroken sequence out.
 *
 * Live messages arrive at their positions. The feed passes on each offset once and in order: an
 * offset it has passed on already is dropped (a duplicate); one that skips ahead means this
 * server missed some (its broker connection dropped), so the feed holds live messages back, reads
 * the missing ones from history, passes them on, then releases what it held — the same hand-over
 * a resuming subscriber gets (see topic-session.ts). What history no longer has, subscribers see
 * as a gap. Each message is serialized at most twice (plain and protocol frames), whatever the
 * number of subscribers.
 */
import { Opcode } from '../protocol/constants.js';
import { encodeFrame } from '../protocol/serializer.js';
import type { HistoryRead, Position } from './history.js';
import { encodeMessage } from './topics-wire.js';
import type { WebSocket } from './websocket.js';

export interface FeedMessage extends Position {
  data: Buffer;
  isBinary: boolean;
}

export interface SharedFrame {
  frame: ReturnType<typeof encodeFrame>;
  size: number;
}

/** Builds the protocol frame of the message being passed on, once for every session. */
export interface SharedSource {
  sharedFrame(): SharedFrame;
}

/** A protocol subscriber (topic-session.ts); `shared` builds the shared protocol frame on demand. */
export interface FeedSubscriber {
  receive(message: FeedMessage, shared: SharedSource): void;
  /** The history has a new epoch and will go on from `next`. */
  restart(epoch: string, next: number): void;
}

/** The protocol's message frame (topics-wire.ts), serialized once for every session. */
export function protocolFrame(topic: string, message: FeedMessage, topicJson?: string): SharedFrame {
  const payload = encodeMessage(topic, message.data, message.isBinary, message, topicJson);
  return { frame: encodeFrame(Opcode.Text, payload, true, false, false), size: payload.length };
}

export type Reader = (since: Position | null) => Promise<HistoryRead>;

export class Feed implements SharedSource {
  readonly sessions = new Set<FeedSubscriber>();
  private readonly topicJson: string;
  /** The message being passed on, and its protocol frame once a session asked for it. */
  private current: FeedMessage | null = null;
  private currentFrame: SharedFrame | null = null;
  private epoch: string | undefined;
  private last = 0;
  /** Live messages held back while history is read; null when passing on directly. */
  private held: FeedMessage[] | null = null;
  private closed = false;

  constructor(
    readonly topic: string,
    /** The plain subscribers of the topic (PubSub's set): raw payloads, no positions. */
    private readonly plain: () => Iterable<WebSocket> | undefined,
    private readonly read: Reader,
    private readonly retryDelay = 250,
  ) {
    this.topicJson = JSON.stringify(topic);
  }

  sharedFrame(): SharedFrame {
    return (this.currentFrame ??= protocolFrame(this.topic, this.current!, this.topicJson));
  }

  /** A subscriber read history and found it at `epoch`/`last`: the start, if nothing came yet. */
  know(epoch: string, last: number): void {
    if (this.epoch === undefined) {
      this.epoch = epoch;
      this.last = last;
    }
  }

  offer(message: FeedMessage): void {
    if (this.held) return void this.held.push(message);
    if (this.epoch === undefined || message.epoch !== this.epoch) {
      // A first message, or a new epoch: nothing before it can be vouched for, or asked for.
      if (this.epoch !== undefined && message.offset > 1) return this.catchUp(message);
      return this.pass(message);
    }
    if (message.offset <= this.last) return;
    if (message.offset === this.last + 1) return this.pass(message);
    this.catchUp(message);
  }

  /** The broker may have missed live messages: read what came after the last one passed on. */
  resync(): void {
    if (!this.held && this.epoch !== undefined) this.catchUp(null);
  }

  close(): void {
    this.closed = true;
    this.held = null;
  }

  private catchUp(trigger: FeedMessage | null): void {
    this.held = trigger ? [trigger] : [];
    const since = { offset: this.last, epoch: this.epoch! };
    const attempt = () => {
      if (this.closed) return;
      this.read(since).then(
        (history) => {
          if (this.closed) return;
          const held = this.held ?? [];
          this.held = null;
          // What history has is the truth: pass it on (skipping what went out already), gaps
          // included, then what was held, which now follows on.
          for (const entry of history.entries) {
            if (history.epoch === this.epoch && entry.offset <= this.last) continue;
            this.pass({ ...entry, epoch: history.epoch });
          }
          if (history.epoch !== this.epoch) {
            // A new epoch with nothing of it to pass on yet: tell the subscribers now, not at
            // the next message (a Redis that restarted empty; every client hears of its gap).
            this.epoch = history.epoch;
            this.last = history.last;
            for (const session of this.sessions) session.restart(history.epoch, history.last + 1);
          }
          for (const message of held) this.offer(message);
        },
        // The store is away: keep holding, and try again (nothing is passed on meanwhile).
        () => setTimeout(attempt, this.retryDelay).unref(),
      );
    };
    attempt();
  }

  private pass(message: FeedMessage): void {
    this.epoch = message.epoch;
    this.last = message.offset;
    const plain = this.plain();
    if (plain) {
      const frame = encodeFrame(message.isBinary ? Opcode.Binary : Opcode.Text, message.data, true, false, false);
      for (const ws of plain) ws.sendFrame(frame, message.data.length);
    }
    if (this.sessions.size === 0) return;
    // No closure per message: the sessions ask the feed, which builds the frame at most once.
    this.current = message;
    this.currentFrame = null;
    for (const session of this.sessions) session.receive(message, this);
    this.current = null;
    this.currentFrame = null;
  }
}
