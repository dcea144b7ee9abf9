/**
 * `send(blob)`: a Blob's bytes can only be read asynchronously, yet messages must leave in the
 * order `send()` was called. So from a Blob on, every send waits here, in order, until the Blobs
 * before it are read; then the queue is gone and sends go straight out again.
 */
import type { SendCallback } from './websocket.js';

export interface BlobSink {
  /** @internal Sends bytes as `send()` would have. */
  sendPart(data: Uint8Array, isBinary: boolean, fin: boolean, callback: SendCallback | undefined): boolean;
  /** @internal The queue emptied: sends go out directly again. */
  blobSendsDone(): void;
}

interface Pending {
  data: Uint8Array | Blob;
  isBinary: boolean;
  fin: boolean;
  callback: SendCallback | undefined;
}

export class BlobSends {
  private readonly items: Pending[] = [];
  /** Bytes waiting here, for `bufferedAmount`. */
  bytes = 0;
  private running = false;

  constructor(private readonly sink: BlobSink) {}

  push(data: Uint8Array | Blob, isBinary: boolean, fin: boolean, callback: SendCallback | undefined): void {
    this.items.push({ data, isBinary, fin, callback });
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
          // This message cannot be sent; the ones after it still can.
          this.bytes -= item.data.size;
          item.callback?.(error as Error);
          continue;
        }
      } else bytes = item.data;
      this.bytes -= size(item.data);
      this.sink.sendPart(bytes, item.isBinary, item.fin, item.callback);
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
