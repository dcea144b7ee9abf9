/**
 * RedisBroker's history: running the scripts of scripts.ts (EVALSHA, and EVAL when Redis does
 * not know the script yet — first use, or a restarted Redis) and reading their answers.
 *
 * Publishes are batched: those of one topic in one turn of the event loop go to Redis as one
 * script call (up to BATCH messages), which stores and publishes them in order. A command per
 * message cost more in the client library than everything else history does (bench/topics.ts).
 */
import { createHash } from 'node:crypto';
import { newEpoch, PublishError, type HistoryOptions, type HistoryRead, type Position } from '../node/history.js';
import type { PublisherAdapter } from './clients.js';
import { APPEND, READ } from './scripts.js';

/** Most messages in one script call: a batch holds Redis (single-threaded) for its duration. */
const BATCH = 256;

interface Pending {
  data: Buffer;
  isBinary: boolean;
  resolve: (position: Position) => void;
  reject: (error: PublishError) => void;
}

interface Batch {
  channel: string;
  history: HistoryOptions;
  messages: Pending[];
}

const sha = (script: string) => createHash('sha1').update(script).digest('hex');
const APPEND_SHA = sha(APPEND);
const READ_SHA = sha(READ);

export class RedisHistory {
  /** Whether this connection has sent SCRIPT LOAD since it last (re)connected. */
  private loaded = false;
  /** Topic → the publishes of this turn, sent together once it ends. */
  private batches = new Map<string, Batch>();

  constructor(
    private readonly redis: PublisherAdapter,
    private readonly prefix: string,
  ) {
    // A Redis that restarted has forgotten the scripts.
    redis.onReady(() => (this.loaded = false));
  }

  private keys(topic: string): [string, string] {
    return [`${this.prefix}${topic}:history`, `${this.prefix}${topic}:meta`];
  }

  /**
   * Stores and publishes. Throws a PublishError at once when the client is not connected: the
   * command would wait in the library's offline queue, and go out (or not) who knows when.
   */
  append(topic: string, channel: string, data: Buffer, isBinary: boolean, history: HistoryOptions): Promise<Position> {
    if (!this.redis.ready()) throw new PublishError('Redis is not connected: the message was not published');
    let batch = this.batches.get(topic);
    if (!batch) {
      if (this.batches.size === 0) queueMicrotask(this.flush);
      this.batches.set(topic, (batch = { channel, history, messages: [] }));
    }
    const messages = batch.messages;
    // A copy: the batch goes out after this turn, and the caller may reuse its buffer by then.
    const copy = Buffer.from(data);
    return new Promise<Position>((resolve, reject) => messages.push({ data: copy, isBinary, resolve, reject }));
  }

  private readonly flush = () => {
    const batches = this.batches;
    this.batches = new Map();
    for (const [topic, batch] of batches) {
      for (let i = 0; i < batch.messages.length; i += BATCH) this.store(topic, batch, batch.messages.slice(i, i + BATCH));
    }
  };

  private store(topic: string, batch: Batch, messages: Pending[]): void {
    const args: (string | Buffer)[] = [newEpoch(), String(batch.history.size), String(batch.history.ttl ?? 0), batch.channel];
    for (const m of messages) args.push(m.isBinary ? '1' : '0', m.data);
    this.run(APPEND, APPEND_SHA, this.keys(topic), args).then(
      (reply) => {
        const [epoch, first] = reply as [Buffer, number];
        const text = epoch.toString();
        messages.forEach((m, i) => m.resolve({ epoch: text, offset: Number(first) + i }));
      },
      (error: unknown) => {
        const failure = new PublishError(`Redis did not store the message: ${(error as Error)?.message ?? error}`);
        for (const m of messages) m.reject(failure);
      },
    );
  }

  async read(topic: string, since: Position | null, history: HistoryOptions): Promise<HistoryRead> {
    const args = [newEpoch(), since ? since.epoch : '', String(since?.offset ?? 0), String(history.ttl ?? 0)];
    const reply = (await this.run(READ, READ_SHA, this.keys(topic), args)) as Buffer[];
    const result: HistoryRead = { epoch: reply[0].toString(), last: Number(reply[1].toString()), entries: [] };
    for (let i = 2; i + 2 < reply.length; i += 3) {
      result.entries.push({ offset: Number(reply[i].toString()), isBinary: reply[i + 1].toString() === '1', data: reply[i + 2] });
    }
    return result;
  }

  private async run(script: string, hash: string, keys: string[], args: (string | Buffer)[]): Promise<unknown> {
    if (!this.loaded) {
      // Sent ahead of the EVALSHA on the same connection, not awaited: Redis runs a connection's
      // commands in order, so the script is known by then. Falling back to EVAL on NOSCRIPT
      // instead would reorder a burst (the EVALSHAs behind the first fail too, and go again later).
      this.loaded = true;
      this.redis.call(['SCRIPT', 'LOAD', APPEND]).catch(() => (this.loaded = false));
      this.redis.call(['SCRIPT', 'LOAD', READ]).catch(() => (this.loaded = false));
    }
    try {
      return await this.redis.call(['EVALSHA', hash, String(keys.length), ...keys, ...args]);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      return this.redis.call(['EVAL', script, String(keys.length), ...keys, ...args]);
    }
  }
}
