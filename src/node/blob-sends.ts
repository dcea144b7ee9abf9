/**
 * `send(blob)`, `ping(blob)`: a Blob's bytes can only be read asynchronously, yet frames must leave
 * in the order the calls were made. So from a Blob on, every send, ping, pong and the close wait
 * here, in order, until the Blobs before them are read; then the queue is gone and calls go straight
 * out again. (Only connections that send Blobs ever have one.)
 */
export interface BlobSink {
  /** @internal The queue emptied: calls go out directly again. */
  blobSendsDone(): void;
}

interface Pending {
  /** A Blob to read first, or the bytes themselves. */
  data: Uint8Array | Blob;
  /** Sends the bytes (or, for a queued close, does it). */
  run: (bytes: Uint8Array) => void;
  /** The Blob could not be read. */
  fail: ((error: Error) => void) | undefined;
}

export class BlobSends {
  private readonly items: Pending[] = [];
  /** Bytes waiting here, for `bufferedAmount`. */
  bytes = 0;
  private running = false;

  constructor(private readonly sink: BlobSink) {}

  push(data: Uint8Array | Blob, run: (bytes: Uint8Array) => void, fail?: (error: Error) => void): void {
    this.items.push({ data, run, fail });
    this.bytes += size(data);
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    for (let item = this.items.shift(); item !== undefined; item = this.items.shift()) {
      let bytes: Uint8Array;
      if (item.data instanceof Blob) {
        try {
          bytes = new Uint8Array(await item.data.arrayBuffer());
        } catch (error) {
          // This one cannot be sent: the sink decides what becomes of the connection.
          this.bytes -= item.data.size;
          item.fail?.(error as Error);
          continue;
        }
      } else bytes = item.data;
      this.bytes -= size(item.data);
      item.run(bytes);
    }
    this.running = false;
    this.sink.blobSendsDone();
  }
}

function size(data: Uint8Array | Blob): number {
  return data instanceof Blob ? data.size : data.length;
}

export function isBlob(data: unknown): data is Blob {
  return typeof Blob !== 'undefined' && data instanceof Blob;
}
