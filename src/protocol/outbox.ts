/**
 * Everything a connection has to send and the transport has not yet taken, in order, with one
 * byte count: the batch ready to write, frames waiting behind a compression still running, and
 * whole-message frames held until a fragmented message ends. `bytes` is what the backpressure
 * policy reads; nothing outgoing is held anywhere else.
 *
 * The ready batch is kept as runs: frames that sit side by side in memory (small frames are carved
 * from a shared pool one after another) extend the last run, so a batch is usually one buffer.
 */
export type WriteCallback = (error?: Error | null) => void;
/** A frame: one buffer, or a header and a payload to write back to back. */
export type Frame = Buffer | [Buffer, Uint8Array];

export interface Batch {
  parts: Buffer[];
  /** To call once the batch is written (or with an error if it never is). */
  callbacks: WriteCallback[] | null;
}

/** A frame that waits for its compression; the frames behind it wait too. */
export interface Slot {
  frame: Frame | null;
  callback: WriteCallback | undefined;
  /** Bytes counted for it: its input while compressing, then its frame. */
  size: number;
}

interface Held {
  frame: Frame;
  callback: WriteCallback | undefined;
}

export function frameSize(frame: Frame): number {
  return Array.isArray(frame) ? frame[0].length + frame[1].length : frame.length;
}

export class Outbox {
  /** Bytes held, all queues together. */
  bytes = 0;
  private parts: Buffer[] | null = null;
  private runBuffer: ArrayBufferLike | null = null;
  private runStart = 0;
  private runLength = 0;
  private callbacks: WriteCallback[] | null = null;
  private slots: Slot[] | null = null;
  private held: Held[] | null = null;

  /** Whether a batch is ready to take. */
  get ready(): boolean {
    return this.runBuffer !== null || this.parts !== null;
  }

  /** Whether a compression is still running for a frame already queued. */
  get compressing(): boolean {
    return this.slots !== null;
  }

  push(frame: Frame, callback: WriteCallback | undefined): void {
    const size = frameSize(frame);
    this.bytes += size;
    if (this.slots !== null) this.slots.push({ frame, callback, size });
    else this.append(frame, callback);
  }

  /** A place in the queue for a frame still being compressed from `size` bytes. */
  reserve(size: number, callback: WriteCallback | undefined): Slot {
    const slot: Slot = { frame: null, callback, size };
    this.bytes += size;
    (this.slots ??= []).push(slot);
    return slot;
  }

  /**
   * The compression of `slot` is done (`frame` null: abandoned, its callback gets an error); the
   * frames now free to go become ready.
   */
  fill(slot: Slot, frame: Frame | null): void {
    this.bytes -= slot.size;
    slot.frame = frame ?? NOTHING;
    slot.size = frame ? frameSize(frame) : 0;
    this.bytes += slot.size;
    const slots = this.slots!;
    while (slots.length > 0 && slots[0].frame !== null) {
      const next = slots.shift()!;
      if (next.frame !== NOTHING) this.append(next.frame!, next.callback);
      else next.callback?.(new Error('The message could not be compressed: the connection is closing'));
    }
    if (slots.length === 0) this.slots = null;
  }

  /** Holds a whole-message frame until `release()` (a fragmented message is being sent). */
  hold(frame: Frame, callback: WriteCallback | undefined): void {
    this.bytes += frameSize(frame);
    (this.held ??= []).push({ frame, callback });
  }

  release(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    for (const { frame, callback } of held) {
      this.bytes -= frameSize(frame);
      this.push(frame, callback);
    }
  }

  /** The ready batch, removed from the queue. */
  take(): Batch | null {
    if (!this.ready) return null;
    this.closeRun();
    const parts = this.parts!;
    const callbacks = this.callbacks;
    this.parts = null;
    this.callbacks = null;
    for (const part of parts) this.bytes -= part.length;
    return { parts, callbacks };
  }

  /** Drops everything; each callback learns why. */
  fail(error: Error): void {
    const callbacks: WriteCallback[] = this.callbacks ?? [];
    for (const slot of this.slots ?? []) if (slot.callback) callbacks.push(slot.callback);
    for (const held of this.held ?? []) if (held.callback) callbacks.push(held.callback);
    this.parts = this.callbacks = this.slots = this.held = null;
    this.runBuffer = null;
    this.bytes = 0;
    for (const callback of callbacks) callback(error);
  }

  private append(frame: Frame, callback: WriteCallback | undefined): void {
    if (Array.isArray(frame)) {
      this.appendBytes(frame[0]);
      this.appendBytes(frame[1]);
    } else {
      this.appendBytes(frame);
    }
    if (callback) (this.callbacks ??= []).push(callback);
  }

  private appendBytes(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (bytes.buffer === this.runBuffer && bytes.byteOffset === this.runStart + this.runLength) {
      this.runLength += bytes.length;
      return;
    }
    this.closeRun();
    this.runBuffer = bytes.buffer;
    this.runStart = bytes.byteOffset;
    this.runLength = bytes.length;
  }

  private closeRun(): void {
    if (this.runBuffer === null) return;
    (this.parts ??= []).push(Buffer.from(this.runBuffer, this.runStart, this.runLength));
    this.runBuffer = null;
  }
}

/** Marks a slot whose compression was abandoned: nothing to write, but its callback is still owed. */
const NOTHING: Frame = Buffer.alloc(0);
