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
import type { HistoryEntry, HistoryRead, Position } from './history.js';
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

/** Resumes waiting for one shared read: those from positions of one epoch (or from none). */
interface ReadBatch {
  /** The lowest offset asked for (the read starts there), null for reads without a position. */
  since: Position | null;
  waiting: { since: Position | null; resolve: (read: HistoryRead) => void; reject: (error: unknown) => void }[];
}

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
  /** Shared resume reads: the one in flight per epoch asked for, and the batch that waits for it. */
  private readonly inFlight = new Set<string>();
  private readonly queued = new Map<string, ReadBatch>();
  /** Protocol frames of replayed entries, built once for every session that replays them. */
  private readonly replayed = new WeakMap<HistoryEntry, SharedFrame>();

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

  /**
   * What `read(since)` would give, for a resuming session, but shared: while a read for positions
   * of the same epoch is in flight, later ones wait and then go as one read, from the lowest
   * offset asked for, each session taking its part. Ten thousand clients resuming after a restart
   * are a few reads, not ten thousand (bench/topics-storm.ts). A session joined the feed before
   * asking, so what is stored after the read it waits for still reaches it live.
   */
  sharedRead(since: Position | null): Promise<HistoryRead> {
    const key = since ? `e:${since.epoch}` : 'none';
    return new Promise<HistoryRead>((resolve, reject) => {
      let batch = this.queued.get(key);
      if (!batch) this.queued.set(key, (batch = { since, waiting: [] }));
      else if (since && batch.since && since.offset < batch.since.offset) batch.since = since;
      batch.waiting.push({ since, resolve, reject });
      if (!this.inFlight.has(key)) this.readBatch(key);
    });
  }

  private readBatch(key: string): void {
    const batch = this.queued.get(key)!;
    this.queued.delete(key);
    this.inFlight.add(key);
    const done = () => {
      this.inFlight.delete(key);
      if (this.queued.has(key)) this.readBatch(key);
    };
    this.read(batch.since).then(
      (history) => {
        done();
        for (const { since, resolve } of batch.waiting) {
          // Each its part: the entries after its own position (a position of another epoch
          // gets everything kept, as from a read of its own).
          const mine = since && since.epoch === history.epoch && batch.since!.offset < since.offset ? history.entries.filter((e) => e.offset > since.offset) : history.entries;
          resolve({ epoch: history.epoch, last: history.last, entries: mine });
        }
      },
      (error: unknown) => {
        done();
        for (const { reject } of batch.waiting) reject(error);
      },
    );
  }

  /** The protocol frame of a replayed entry, built once for every session replaying it. */
  replayFrame(entry: HistoryEntry, epoch: string): SharedFrame {
    let frame = this.replayed.get(entry);
    if (!frame) this.replayed.set(entry, (frame = protocolFrame(this.topic, { ...entry, epoch }, this.topicJson)));
    return frame;
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
    // Saved and restored: a send may run application code that publishes here again.
    const outer = this.current;
    const outerFrame = this.currentFrame;
    this.current = message;
    this.currentFrame = null;
    try {
      for (const session of this.sessions) session.receive(message, this);
    } finally {
      this.current = outer;
      this.currentFrame = outerFrame;
    }
  }
}
