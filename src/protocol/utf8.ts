/**
 * Incremental UTF-8 validation that fails on the first byte that cannot start or continue a valid
 * sequence, so a text message is rejected in the fragment (or the piece of a frame) where it goes
 * wrong, without waiting for the rest (RFC 6455 §8.1, Autobahn 6.4.*).
 *
 * The bulk of each piece is checked by the native `Buffer.isUtf8`; only the bytes around piece
 * boundaries go through the byte-level state machine below (Unicode Table 3-7).
 */
import { isUtf8 } from 'node:buffer';

const ACCEPT = 0;
const REJECT = -1;
// States while inside a sequence: how many continuation bytes remain and which range the next one has.
const NEED1 = 1; // 80..BF, then done
const NEED2 = 2; // 80..BF, then NEED1
const NEED3 = 3; // 80..BF, then NEED2
const AFTER_E0 = 4; // A0..BF, then NEED1 (no overlong 3-byte forms)
const AFTER_ED = 5; // 80..9F, then NEED1 (no surrogates)
const AFTER_F0 = 6; // 90..BF, then NEED2 (no overlong 4-byte forms)
const AFTER_F4 = 7; // 80..8F, then NEED2 (nothing above U+10FFFF)

function step(state: number, byte: number): number {
  switch (state) {
    case ACCEPT:
      if (byte < 0x80) return ACCEPT;
      if (byte < 0xc2) return REJECT;
      if (byte < 0xe0) return NEED1;
      if (byte === 0xe0) return AFTER_E0;
      if (byte === 0xed) return AFTER_ED;
      if (byte < 0xf0) return NEED2;
      if (byte === 0xf0) return AFTER_F0;
      if (byte < 0xf4) return NEED3;
      if (byte === 0xf4) return AFTER_F4;
      return REJECT;
    case NEED1:
      return byte >= 0x80 && byte <= 0xbf ? ACCEPT : REJECT;
    case NEED2:
      return byte >= 0x80 && byte <= 0xbf ? NEED1 : REJECT;
    case NEED3:
      return byte >= 0x80 && byte <= 0xbf ? NEED2 : REJECT;
    case AFTER_E0:
      return byte >= 0xa0 && byte <= 0xbf ? NEED1 : REJECT;
    case AFTER_ED:
      return byte >= 0x80 && byte <= 0x9f ? NEED1 : REJECT;
    case AFTER_F0:
      return byte >= 0x90 && byte <= 0xbf ? NEED2 : REJECT;
    case AFTER_F4:
      return byte >= 0x80 && byte <= 0x8f ? NEED2 : REJECT;
    default:
      return REJECT;
  }
}

/** Length of the sequence a lead byte starts, or 0 for a byte that cannot lead. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead < 0xc0) return 0;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  if (lead < 0xf8) return 4;
  return 0;
}

export class Utf8Validator {
  private state = ACCEPT;

  /** Feeds `data[start, end)`; returns false as soon as the bytes so far cannot be valid UTF-8. */
  push(data: Uint8Array, start = 0, end = data.length): boolean {
    let i = start;
    // Finish a sequence left open by the previous piece.
    while (this.state !== ACCEPT && i < end) {
      this.state = step(this.state, data[i++]);
      if (this.state === REJECT) return false;
    }
    if (i === end) return true;
    // Find where the last, possibly incomplete, sequence starts; everything before it is whole.
    let tail = end;
    for (let back = end - 1; back >= i && back >= end - 3; back--) {
      const len = sequenceLength(data[back]);
      if (len === 0) continue; // continuation byte: keep looking for its lead
      if (back + len > end) tail = back;
      break;
    }
    if (tail > i && !isUtf8(data.subarray(i, tail))) {
      this.state = REJECT;
      return false;
    }
    for (let j = tail; j < end; j++) {
      this.state = step(this.state, data[j]);
      if (this.state === REJECT) return false;
    }
    return true;
  }

  /** True when the bytes fed so far end on a character boundary; resets for the next message. */
  end(): boolean {
    const complete = this.state === ACCEPT;
    this.state = ACCEPT;
    return complete;
  }

  reset(): void {
    this.state = ACCEPT;
  }
}

export { isUtf8 };
