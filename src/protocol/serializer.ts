/**
 * Frame serialization (RFC 6455 §5.2). Servers send unmasked frames: the payload is written as it
 * is, after a separate header, so large payloads are never copied. Clients must mask (§5.3), which
 * needs a copy anyway: header and masked payload are built in one buffer.
 */
import { randomFillSync } from 'node:crypto';
import { applyMask } from './mask.js';

/** Payloads up to this size are copied next to their header: one small buffer beats two writes. */
export const MERGE_LIMIT = 1024;

// Mask keys come from a pool of random bytes, refilled in bulk rather than per frame.
const POOL_SIZE = 8 * 1024;
let pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

function nextMaskKey(): Buffer {
  if (poolOffset + 4 > POOL_SIZE) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE));
    poolOffset = 0;
  }
  const key = pool.subarray(poolOffset, poolOffset + 4);
  poolOffset += 4;
  return key;
}

// Small frames are carved one after another out of a shared pool, so the frames produced in one
// tick usually sit side by side in memory and the transport can write them as one buffer. A pool
// is never rewound: a new one replaces it when full, and frames still queued keep the old alive.
const FRAME_POOL_SIZE = 64 * 1024;
const POOLED_LIMIT = 4 * 1024;
let framePool = Buffer.allocUnsafeSlow(FRAME_POOL_SIZE);
let framePoolOffset = 0;

function allocFrame(size: number): Buffer {
  if (size > POOLED_LIMIT) return Buffer.allocUnsafe(size);
  if (framePoolOffset + size > FRAME_POOL_SIZE) {
    framePool = Buffer.allocUnsafeSlow(FRAME_POOL_SIZE);
    framePoolOffset = 0;
  }
  const frame = framePool.subarray(framePoolOffset, framePoolOffset + size);
  framePoolOffset += size;
  return frame;
}

export function headerLength(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
  return masked ? base + 4 : base;
}

/** Writes a frame header into `target` at `offset`; returns where the payload starts. */
export function writeHeader(
  target: Buffer,
  offset: number,
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  payloadLength: number,
  maskKey: Uint8Array | null,
): number {
  target[offset] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = maskKey ? 0x80 : 0;
  let pos = offset + 2;
  if (payloadLength < 126) {
    target[offset + 1] = maskBit | payloadLength;
  } else if (payloadLength < 0x10000) {
    target[offset + 1] = maskBit | 126;
    target.writeUInt16BE(payloadLength, pos);
    pos += 2;
  } else {
    target[offset + 1] = maskBit | 127;
    target.writeUInt32BE(Math.floor(payloadLength / 0x100000000), pos);
    target.writeUInt32BE(payloadLength >>> 0, pos + 4);
    pos += 8;
  }
  if (maskKey) {
    target[pos] = maskKey[0];
    target[pos + 1] = maskKey[1];
    target[pos + 2] = maskKey[2];
    target[pos + 3] = maskKey[3];
    pos += 4;
  }
  return pos;
}

/**
 * Serializes one frame. Returns one buffer, or for a large unmasked payload a header and the
 * caller's payload untouched, to be written back to back.
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  fin: boolean,
  rsv1: boolean,
  masked: boolean,
): Buffer | [Buffer, Uint8Array] {
  const length = payload.length;
  const maskKey = masked ? nextMaskKey() : null;
  if (!masked && length > MERGE_LIMIT) {
    const header = allocFrame(headerLength(length, false));
    writeHeader(header, 0, opcode, fin, rsv1, length, null);
    return [header, payload];
  }
  const frame = allocFrame(headerLength(length, masked) + length);
  const start = writeHeader(frame, 0, opcode, fin, rsv1, length, maskKey);
  if (maskKey) applyMask(payload, 0, frame, start, length, maskKey);
  else frame.set(payload, start);
  return frame;
}

/** The payload of a close frame: a 2-byte code and a UTF-8 reason (§5.5.1). */
export function encodeClosePayload(code: number | undefined, reason: string | Uint8Array = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const reasonBytes = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const payload = Buffer.allocUnsafe(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  payload.set(reasonBytes, 2);
  return payload;
}
