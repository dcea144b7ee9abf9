/**
 * The attacks, each on N connections at once, bounded in frames and in time. `attack` drives one
 * connection; the runner starts it on every connection together.
 */
import { frame, OP } from '../../test/helpers/raw.js';
import { batch, compressedText, continuation, pingsFilling, WRITE_SIZE } from './frames.js';
import type { Peer } from './peer.js';

const MiB = 1024 * 1024;
export const MAX_PAYLOAD = 1 * MiB;

export interface Scenario {
  id: string;
  title: string;
  /** What the peer does, for the notes under the table. */
  description: string;
  connections: number;
  server: { maxPayload: number; deflate: boolean };
  /** Whether the peer reads its socket during the attack. */
  read: boolean;
  /** Sample after a ping's pong came back (false when a ping would only be more payload). */
  sync: boolean;
  /** Most milliseconds the attack may take. */
  window: number;
  /** What `peer.sent` counts (reported in the JSON). */
  unit: 'frames' | 'writes' | 'bytes';
  attack(peer: Peer, deadline: number): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const going = (peer: Peer, deadline: number) => !peer.gone && Date.now() < deadline;

/** A binary message opened with fin=0, then `total` continuation frames of `size` bytes, never a fin. */
function fragmentFlood(size: number, total: number): Scenario {
  const first = frame(OP.binary, Buffer.alloc(size, 0x61), { fin: false });
  const { bytes, frames } = batch(continuation(size));
  return {
    id: `fragments-${size}b`,
    title: `fragment flood, ${size}-byte continuations × ${total / 1000}k, no fin`,
    description: `a binary frame with fin=0, then ${total.toLocaleString('en')} continuation frames of ${size} byte(s) per connection (${frames} per write), never a fin; then a ping, and the sample once its pong is back`,
    connections: 32,
    server: { maxPayload: MAX_PAYLOAD, deflate: false },
    read: true,
    sync: true,
    window: 30_000,
    unit: 'frames',
    async attack(peer, deadline) {
      await peer.write(first, deadline);
      peer.sent = 1;
      while (peer.sent < total && going(peer, deadline)) {
        await peer.write(bytes, deadline);
        peer.sent += frames;
      }
    },
  };
}

/** Each write: one 1-byte continuation frame, then pings to fill 64 KiB; the peer reads its pongs. */
function pinningReads(writes: number): Scenario {
  const first = frame(OP.binary, Buffer.from('a'), { fin: false });
  const one = continuation(1);
  const bytes = Buffer.concat([one, pingsFilling(WRITE_SIZE - one.length)]);
  return {
    id: 'pinning-reads',
    title: `small fragments pinning reads, ${writes.toLocaleString('en')} × 64 KiB writes`,
    description: `a binary frame with fin=0, then ${writes.toLocaleString('en')} writes of 64 KiB, each one 1-byte continuation frame followed by pings (125-byte payloads) filling the rest; the peer reads its pongs; sampled after a final ping's pong`,
    connections: 20,
    server: { maxPayload: MAX_PAYLOAD, deflate: false },
    read: true,
    sync: true,
    window: 60_000,
    unit: 'writes',
    async attack(peer, deadline) {
      await peer.write(first, deadline);
      while (peer.sent < writes && going(peer, deadline)) {
        await peer.write(bytes, deadline);
        peer.sent++;
      }
    },
  };
}

/** A frame header declaring `declared` bytes, then 3 bytes every 500 ms: the rest never comes. */
function trickle(id: string, declared: number, maxPayload: number, label: string): Scenario {
  return {
    id,
    title: `declared-large trickle, ${label} declared (maxPayload ${maxPayload / MiB} MiB)`,
    description: `a binary frame header declaring ${declared.toLocaleString('en')} bytes with the server's maxPayload at ${maxPayload / MiB} MiB, then 3 payload bytes every 500 ms for 3 s; sampled 0.2 s later, the frame still open`,
    connections: 32,
    server: { maxPayload, deflate: false },
    read: true,
    sync: false,
    window: 3_000,
    unit: 'bytes',
    async attack(peer, deadline) {
      await peer.write(frame(OP.binary, Buffer.alloc(3, 0x62), { length: BigInt(declared) }), deadline);
      peer.sent = 3;
      while (going(peer, deadline)) {
        await sleep(500);
        if (!going(peer, deadline)) break;
        await peer.write(Buffer.alloc(3, 0x62), deadline);
        peer.sent += 3;
      }
    },
  };
}

/** Pings as fast as the socket takes them; the peer never reads, so the pongs have nowhere to go. */
function pingFlood(window: number): Scenario {
  const bytes = pingsFilling(WRITE_SIZE);
  const perWrite = Math.ceil(WRITE_SIZE / 131);
  return {
    id: 'ping-flood',
    title: `ping flood, never reading, ${window / 1000} s`,
    description: `pings with 125-byte payloads in 64 KiB writes, as fast as the socket takes them, for ${window / 1000} s; the peer never reads (its socket is paused; Node cannot shrink SO_RCVBUF, so the kernel takes a few MB first); sampled 0.5 s after the flood, before the peer reads`,
    connections: 32,
    server: { maxPayload: MAX_PAYLOAD, deflate: false },
    read: false,
    sync: false,
    window,
    unit: 'frames',
    async attack(peer, deadline) {
      while (going(peer, deadline)) {
        await peer.write(bytes, deadline);
        peer.sent += perWrite;
      }
    },
  };
}

/** permessage-deflate: a few large compressed messages, then small ones as fast as possible, never reading. */
function compressedFlood(window: number): Scenario {
  const row = '{"type":"tick","symbol":"ABCD","price":123.45,"size":100,"side":"buy"}';
  const small = compressedText(row.repeat(3));
  const large = compressedText(row.repeat(Math.floor((900 * 1024) / row.length)));
  const { bytes, frames } = batch(small);
  return {
    id: 'deflate-flood',
    title: `compressed flood (permessage-deflate), never reading, ${window / 1000} s`,
    description: `permessage-deflate negotiated; 4 messages of ~900 KiB compressed to ${large.length.toLocaleString('en')} bytes each, then ${row.length * 3}-byte messages compressed to ${small.length} bytes (${frames} per 64 KiB write) as fast as the socket takes them for ${window / 1000} s; the server echoes each message; the peer never reads; sampled 0.5 s after`,
    connections: 32,
    server: { maxPayload: MAX_PAYLOAD, deflate: true },
    read: false,
    sync: false,
    window,
    unit: 'frames',
    async attack(peer, deadline) {
      for (let i = 0; i < 4 && going(peer, deadline); i++) {
        await peer.write(large, deadline);
        peer.sent++;
      }
      while (going(peer, deadline)) {
        await peer.write(bytes, deadline);
        peer.sent += frames;
      }
    },
  };
}

export const SCENARIOS: Scenario[] = [
  fragmentFlood(1, 200_000),
  fragmentFlood(0, 200_000),
  pinningReads(1_500),
  trickle('trickle-max', MAX_PAYLOAD - 1, MAX_PAYLOAD, 'maxPayload-1'),
  trickle('trickle-50mib', 50 * MiB, 64 * MiB, '50 MiB'),
  pingFlood(4_000),
  compressedFlood(4_000),
];
