/**
 * RedisBroker's history: running the scripts of scripts.ts (EVALSHA, and EVAL when Redis does
 * not know the script yet — first use, or a restarted Redis) and reading their answers.
 */
import { createHash } from 'node:crypto';
import { newEpoch, PublishError, type HistoryOptions, type HistoryRead, type Position } from '../node/history.js';
import type { PublisherAdapter } from './clients.js';
import { APPEND, READ } from './scripts.js';

const sha = (script: string) => createHash('sha1').update(script).digest('hex');
const APPEND_SHA = sha(APPEND);
const READ_SHA = sha(READ);

export class RedisHistory {
  /** Whether this connection has sent SCRIPT LOAD since it last (re)connected. */
  private loaded = false;

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
    const args = [newEpoch(), isBinary ? '1' : '0', data, String(history.size), String(history.ttl ?? 0), channel];
    return this.run(APPEND, APPEND_SHA, this.keys(topic), args).then(
      (reply) => {
        const [epoch, offset] = reply as [Buffer, number];
        return { epoch: epoch.toString(), offset: Number(offset) };
      },
      (error: unknown) => {
        throw new PublishError(`Redis did not store the message: ${(error as Error)?.message ?? error}`);
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
