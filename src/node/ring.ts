/**
 * LocalBroker's history of one topic: the last `size` messages in a fixed array used as a ring,
 * each stamped with the time it was stored so that entries older than `ttl` count as gone. The
 * epoch is drawn when the ring is made: it lives as long as this process's broker.
 */
import { newEpoch, type HistoryEntry, type HistoryOptions, type HistoryRead, type Position } from './history.js';

interface Stored extends HistoryEntry {
  at: number;
}

export class Ring {
  readonly epoch = newEpoch();
  private readonly slots: (Stored | undefined)[];
  private last = 0;

  constructor(private readonly limits: HistoryOptions) {
    this.slots = new Array(limits.size);
  }

  /** Stores a copy (the caller may reuse its buffer) and returns its position. */
  push(data: Buffer, isBinary: boolean): Position {
    const offset = ++this.last;
    this.slots[offset % this.slots.length] = { offset, data: Buffer.from(data), isBinary, at: Date.now() };
    return { offset, epoch: this.epoch };
  }

  read(since: Position | null): HistoryRead {
    const result: HistoryRead = { epoch: this.epoch, last: this.last, entries: [] };
    if (!since) return result;
    const after = since.epoch === this.epoch ? since.offset : 0;
    const size = this.slots.length;
    const oldest = Math.max(after + 1, this.last - size + 1, 1);
    const cutoff = this.limits.ttl === undefined ? -Infinity : Date.now() - this.limits.ttl;
    for (let offset = oldest; offset <= this.last; offset++) {
      const entry = this.slots[offset % size];
      // Expired entries are in offset order too: skip the old head, keep the rest.
      if (!entry || entry.offset !== offset || entry.at < cutoff) continue;
      result.entries.push({ offset, data: entry.data, isBinary: entry.isBinary });
    }
    return result;
  }
}
