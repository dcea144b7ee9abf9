/**
 * LocalBroker's history of one topic: the last `size` messages, each stamped with the time it was
 * stored so that entries older than `ttl` count as gone. The epoch is drawn when the ring is made:
 * it lives as long as this process's broker.
 *
 * The payloads are copied into one byte arena, and the rest is kept in typed arrays: no object per
 * message. Every entry lives until `size` more have been pushed — long enough for the garbage
 * collector to promote it — and a Buffer per entry made history cost more in collection than in
 * everything else it does (bench/topics.ts). Reads copy out: they are a resume's, not a publish's.
 */
import { newEpoch, type HistoryEntry, type HistoryOptions, type HistoryRead, type Position } from './history.js';

export class Ring {
  readonly epoch = newEpoch();
  private readonly offsets: Float64Array;
  private readonly stamps: Float64Array;
  private readonly binary: Uint8Array;
  /** Where each entry's bytes start in the arena, as a count of bytes written since it was made. */
  private readonly starts: Float64Array;
  private readonly lengths: Uint32Array;
  private arena: Buffer;
  /** Bytes written to the arena, counting from its making (position = head % arena.length). */
  private head = 0;
  private last = 0;

  constructor(private readonly limits: HistoryOptions) {
    const size = limits.size;
    this.offsets = new Float64Array(size);
    this.stamps = new Float64Array(size);
    this.binary = new Uint8Array(size);
    this.starts = new Float64Array(size);
    this.lengths = new Uint32Array(size);
    this.arena = Buffer.allocUnsafeSlow(Math.min(64 * 1024, Math.max(1024, size * 64)));
  }

  /** Stores a copy (the caller may reuse its buffer) and returns its position. */
  push(data: Buffer, isBinary: boolean): Position {
    const offset = ++this.last;
    const size = this.offsets.length;
    const length = data.length;
    let at = this.place(length);
    // The oldest entry kept once this one is in: its bytes must not be written over.
    const oldest = Math.max(1, offset - size + 1);
    if (oldest < offset && this.head + length - this.starts[oldest % size] > this.arena.length) {
      this.grow(oldest, offset - 1, length);
      at = this.place(length);
    }
    this.arena.set(data, at);
    const slot = offset % size;
    this.offsets[slot] = offset;
    // Only a ttl reads the stamps.
    if (this.limits.ttl !== undefined) this.stamps[slot] = Date.now();
    this.binary[slot] = isBinary ? 1 : 0;
    this.starts[slot] = this.head;
    this.lengths[slot] = length;
    this.head += length;
    return { offset, epoch: this.epoch };
  }

  /** Where `length` bytes go, contiguous: past the arena's end, at its start (the tail is skipped). */
  private place(length: number): number {
    const capacity = this.arena.length;
    if (length > capacity) this.grow(Math.max(1, this.last - this.offsets.length + 1), this.last - 1, length);
    let at = this.head % this.arena.length;
    if (at + length > this.arena.length) {
      this.head += this.arena.length - at;
      at = 0;
    }
    return at;
  }

  /** A larger arena holding entries `from`..`to` (those still kept) and room for `more` bytes. */
  private grow(from: number, to: number, more: number): void {
    const size = this.offsets.length;
    let used = 0;
    for (let offset = from; offset <= to; offset++) used += this.lengths[offset % size];
    const next = Buffer.allocUnsafeSlow(Math.max(this.arena.length * 2, (used + more) * 2));
    let head = 0;
    for (let offset = from; offset <= to; offset++) {
      const slot = offset % size;
      if (this.offsets[slot] !== offset) continue;
      const start = this.starts[slot] % this.arena.length;
      this.arena.copy(next, head, start, start + this.lengths[slot]);
      this.starts[slot] = head;
      head += this.lengths[slot];
    }
    this.arena = next;
    this.head = head;
  }

  read(since: Position | null): HistoryRead {
    const result: HistoryRead = { epoch: this.epoch, last: this.last, entries: [] };
    if (!since) return result;
    const after = since.epoch === this.epoch ? since.offset : 0;
    const size = this.offsets.length;
    const oldest = Math.max(after + 1, this.last - size + 1, 1);
    const cutoff = this.limits.ttl === undefined ? -Infinity : Date.now() - this.limits.ttl;
    for (let offset = oldest; offset <= this.last; offset++) {
      const slot = offset % size;
      // Expired entries are in offset order too: skip the old head, keep the rest.
      if (this.offsets[slot] !== offset || this.stamps[slot] < cutoff) continue;
      const start = this.starts[slot] % this.arena.length;
      const data = Buffer.from(this.arena.subarray(start, start + this.lengths[slot]));
      const entry: HistoryEntry = { offset, data, isBinary: this.binary[slot] === 1 };
      result.entries.push(entry);
    }
    return result;
  }
}
