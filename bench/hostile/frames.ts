/**
 * The bytes the attacks write, built once with test/helpers/raw.ts's frame() (masked client
 * frames) and repeated: batches of ~64 KiB, one socket write each.
 */
import { constants, deflateRawSync } from 'node:zlib';
import { frame, OP } from '../../test/helpers/raw.js';

export const WRITE_SIZE = 64 * 1024;

/** `count` copies of one frame in one buffer. */
export function repeat(one: Buffer, count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, () => one));
}

/** As many copies of `one` as fit in `size` bytes, and how many that is. */
export function batch(one: Buffer, size = WRITE_SIZE): { bytes: Buffer; frames: number } {
  const frames = Math.floor(size / one.length);
  return { bytes: repeat(one, frames), frames };
}

/** A continuation frame with `size` payload bytes, not final. */
export function continuation(size: number): Buffer {
  return frame(OP.cont, Buffer.alloc(size, 0x61), { fin: false });
}

/** Pings (125-byte payloads, the most a control frame may carry, then one shorter) filling exactly `size` bytes. */
export function pingsFilling(size: number): Buffer {
  const full = frame(OP.ping, Buffer.alloc(125, 0x70));
  const count = Math.floor(size / full.length);
  const rest = size - count * full.length;
  const parts = [repeat(full, count)];
  if (rest >= 6) parts.push(frame(OP.ping, Buffer.alloc(Math.min(125, rest - 6), 0x70)));
  else if (rest > 0) throw new Error(`cannot fill ${rest} bytes with a ping`);
  return Buffer.concat(parts);
}

/**
 * One compressed message (RFC 7692 §7.2.1): raw deflate ending in a sync flush, its 00 00 ff ff
 * tail stripped, RSV1 on the (only) frame. Each message is compressed on its own; that is valid
 * whether or not the server keeps its inflate window between messages.
 */
export function compressedText(text: string): Buffer {
  const deflated = deflateRawSync(Buffer.from(text), { finishFlush: constants.Z_SYNC_FLUSH });
  const tail = deflated.subarray(-4);
  if (!tail.equals(Buffer.from([0x00, 0x00, 0xff, 0xff]))) throw new Error('deflate output does not end in a sync flush');
  return frame(OP.text, deflated.subarray(0, -4), { rsv: 4 });
}
