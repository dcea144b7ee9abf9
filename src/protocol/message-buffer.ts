/**
 * The payload of a message that does not arrive in one piece (a frame spanning reads, or several
 * fragments), held as it comes. What it holds is counted as memory, not as payload:
 *
 * - nothing is allocated from a declared length: it grows with the bytes that arrived;
 * - a piece that is most of a large read is kept as a view of it (no copy until the message is
 *   whole); anything smaller is copied into a block of our own, so a one-byte fragment never pins
 *   a 64 KiB read and a million small fragments cost their bytes, not a million objects;
 * - an empty piece costs nothing.
 *
 * So a partial message holds at most about 8/7 of its payload plus one block.
 */
import { applyMask } from './mask.js';

/** A piece at least this long that is at least 7/8 of its read is kept as a view. */
const VIEW_MIN = 4096;
const BLOCK_MIN = 1024;
const BLOCK_MAX = 64 * 1024;

export class MessageBuffer {
  /** Payload bytes held. */
  length = 0;
  private parts: Buffer[] = [];
  /** The block being filled (the last part when not null) and how much of it is used. */
  private block: Buffer | null = null;
  private used = 0;

  /**
   * Adds `length` bytes of `chunk` from `offset`, unmasking them when `mask` is given (`phase`:
   * the mask index of the first byte). Returns the unmasked bytes, for UTF-8 validation.
   * `transient`: the chunk is reused after the call, so nothing is kept as a view of it.
   */
  append(chunk: Buffer, offset: number, length: number, mask: Uint8Array | null, phase: number, transient = false): Buffer {
    if (length === 0) return EMPTY;
    this.length += length;
    if (!transient && length >= VIEW_MIN && length * 8 >= chunk.buffer.byteLength * 7) {
      const view = chunk.subarray(offset, offset + length);
      if (mask) applyMask(view, 0, view, 0, length, mask, phase);
      this.seal();
      this.parts.push(view);
      return view;
    }
    let block = this.block;
    if (block === null || block.length - this.used < length) {
      // Blocks grow with the message (a small message gets a small one), up to BLOCK_MAX.
      this.seal();
      const size = Math.min(BLOCK_MAX, Math.max(BLOCK_MIN, this.length));
      if (size < length) return this.appendLarge(chunk, offset, length, mask, phase);
      block = this.block = Buffer.allocUnsafeSlow(size);
      this.used = 0;
      this.parts.push(block);
    }
    const start = this.used;
    if (mask) applyMask(chunk, offset, block, start, length, mask, phase);
    else chunk.copy(block, start, offset, offset + length);
    this.used = start + length;
    return block.subarray(start, start + length);
  }

  /** A piece above BLOCK_MAX that shares its read with other frames: a copy of its own size. */
  private appendLarge(chunk: Buffer, offset: number, length: number, mask: Uint8Array | null, phase: number): Buffer {
    const copy = Buffer.allocUnsafeSlow(length);
    if (mask) applyMask(chunk, offset, copy, 0, length, mask, phase);
    else chunk.copy(copy, 0, offset, offset + length);
    this.parts.push(copy);
    return copy;
  }

  /** Trims the block being filled to what it holds, so no later piece goes in front of others. */
  private seal(): void {
    if (this.block === null) return;
    this.parts[this.parts.length - 1] = this.block.subarray(0, this.used);
    this.block = null;
  }

  /** The whole payload, and the buffer emptied for the next message. */
  take(): Buffer {
    this.seal();
    const parts = this.parts;
    const length = this.length;
    this.parts = [];
    this.length = 0;
    if (parts.length === 1) return parts[0];
    return Buffer.concat(parts, length);
  }

  clear(): void {
    this.parts = [];
    this.block = null;
    this.length = 0;
  }
}

const EMPTY = Buffer.alloc(0);
