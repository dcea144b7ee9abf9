/**
 * Micro benchmarks, in one process: our FrameParser, encodeFrame and applyMask (from the built
 * dist/, what the package ships) beside ws's Receiver, Sender.frame and buffer-util unmask (from
 * bench/.peers). ws takes bufferutil when it is installed; run with WS_NO_BUFFER_UTIL=1 for pure JS.
 *
 * Usage: tsx bench/micro/micro.ts [--impls ours,ws] [--label ws] [--time 1000] [--runs 3]
 * Prints one JSON object per case on stdout, progress on stderr.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const peerWs = path.join(repo, 'bench/.peers/node_modules/ws/lib');
const requirePeer = createRequire(import.meta.url);

const args = new Map<string, string>();
for (let i = 2; i + 1 < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const impls = (args.get('impls') ?? 'ours,ws').split(',');
const wsLabel = args.get('label') ?? (process.env.WS_NO_BUFFER_UTIL ? 'ws-js' : 'ws');
const timeMs = Number(args.get('time') ?? 1000);
const runs = Number(args.get('runs') ?? 3);

const protocol = (await import(path.join(repo, 'dist/protocol/index.js'))) as typeof import('../../src/protocol/index.js');
const { FrameParser, encodeFrame, applyMask, Opcode } = protocol;

let Receiver: any = null;
let Sender: any = null;
let bufferUtil: any = null;
if (impls.includes('ws')) {
  Receiver = requirePeer(path.join(peerWs, 'receiver.js'));
  Sender = requirePeer(path.join(peerWs, 'sender.js'));
  bufferUtil = requirePeer(path.join(peerWs, 'buffer-util.js'));
}

const SIZES: [string, number][] = [
  ['32 B', 32],
  ['16 KiB', 16 * 1024],
  ['1 MiB', 1024 * 1024],
];
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** One frame as a client (masked) or a server (unmasked) would send it. */
function frame(size: number, masked: boolean): Buffer {
  const payload = Buffer.alloc(size, 120);
  const ext = size < 126 ? 0 : size < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  head[0] = 0x82;
  head[1] = (masked ? 0x80 : 0) | (ext === 0 ? size : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(size, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(size), 2);
  if (masked) {
    MASK.copy(head, 2 + ext);
    for (let i = 0; i < size; i++) payload[i] ^= MASK[i & 3];
  }
  return Buffer.concat([head, payload]);
}

/** As many frames as fit in 64 KiB (at least one), back to back: what one socket read delivers. */
function chunkOf(size: number, masked: boolean): { chunk: Buffer; frames: number } {
  const one = frame(size, masked);
  const frames = Math.max(1, Math.floor(65536 / one.length));
  return { chunk: Buffer.concat(Array(frames).fill(one)), frames };
}

/** Calls `fn` (doing `perCall` operations) repeatedly for timeMs; returns operations per second. */
function measure(fn: () => void, perCall: number): number {
  const warm = performance.now() + timeMs / 3;
  while (performance.now() < warm) fn();
  let calls = 0;
  const start = performance.now();
  let now = start;
  const end = start + timeMs;
  while (now < end) {
    for (let i = 0; i < 16; i++) fn();
    calls += 16;
    now = performance.now();
  }
  return (calls * perCall * 1000) / (now - start);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface Case {
  op: 'parse' | 'serialize' | 'unmask';
  size: string;
  bytes: number;
  masked: boolean;
  impl: string;
  setup: () => { fn: () => void; perCall: number; check?: () => void };
}

const cases: Case[] = [];
let sink = 0;

for (const [label, size] of [...SIZES, ['1 MiB in 64 KiB reads', 1024 * 1024] as [string, number]]) {
  const split = label.includes('reads');
  for (const masked of [true, false]) {
    const pieces = (): { chunks: Buffer[]; frames: number } => {
      if (!split) {
        const { chunk, frames } = chunkOf(size, masked);
        return { chunks: [chunk], frames };
      }
      const whole = frame(size, masked);
      const chunks: Buffer[] = [];
      for (let at = 0; at < whole.length; at += 65536) chunks.push(Buffer.from(whole.subarray(at, at + 65536)));
      return { chunks, frames: 1 };
    };
    if (impls.includes('ours')) {
      cases.push({
        op: 'parse', size: label, bytes: size, masked, impl: 'rfc6455',
        setup: () => {
          const { chunks, frames } = pieces();
          let received = 0;
          const parser = new FrameParser(
            {
              onMessage: (data) => { received++; sink += data.length; },
              onFragment: () => {}, onPing: () => {}, onPong: () => {}, onCloseFrame: () => {},
              onProtocolError: (error) => { throw error; },
            },
            { expectMasked: masked, maxPayload: 2 ** 31 },
          );
          let calls = 0;
          return {
            fn: () => { calls++; for (const c of chunks) parser.push(c); },
            perCall: frames,
            check: () => { if (received !== calls * frames) throw new Error(`rfc6455 parser: ${received} of ${calls * frames} messages`); },
          };
        },
      });
    }
    if (impls.includes('ws')) {
      cases.push({
        op: 'parse', size: label, bytes: size, masked, impl: wsLabel,
        setup: () => {
          const { chunks, frames } = pieces();
          let received = 0;
          const receiver = new Receiver({ isServer: masked, maxPayload: 0, binaryType: 'nodebuffer', allowSynchronousEvents: true });
          receiver.on('message', (data: Buffer) => { received++; sink += data.length; });
          receiver.on('error', (error: Error) => { throw error; });
          let calls = 0;
          return {
            // ws feeds its Receiver (a Writable) with receiver.write(chunk) from the socket's 'data'.
            fn: () => { calls++; for (const c of chunks) receiver.write(c); },
            perCall: frames,
            check: () => { if (received !== calls * frames) throw new Error(`ws Receiver: ${received} of ${calls * frames} messages`); },
          };
        },
      });
    }
  }
}

for (const [label, size] of SIZES) {
  for (const masked of [true, false]) {
    const payload = Buffer.alloc(size, 120);
    if (impls.includes('ours')) {
      cases.push({
        op: 'serialize', size: label, bytes: size, masked, impl: 'rfc6455',
        setup: () => ({
          fn: () => { const f = encodeFrame(Opcode.Binary, payload, true, false, masked); sink += Array.isArray(f) ? f[0].length : f.length; },
          perCall: 1,
        }),
      });
    }
    if (impls.includes('ws')) {
      cases.push({
        op: 'serialize', size: label, bytes: size, masked, impl: wsLabel,
        setup: () => {
          const options = { fin: true, opcode: 2, mask: masked, readOnly: true, rsv1: false };
          return { fn: () => { sink += Sender.frame(payload, options)[0].length; }, perCall: 1 };
        },
      });
    }
  }
}

for (const [label, size] of SIZES) {
  const data = Buffer.alloc(size, 120);
  if (impls.includes('ours')) {
    cases.push({
      op: 'unmask', size: label, bytes: size, masked: true, impl: 'rfc6455',
      setup: () => ({ fn: () => applyMask(data, 0, data, 0, size, MASK), perCall: 1 }),
    });
  }
  if (impls.includes('ws')) {
    cases.push({
      op: 'unmask', size: label, bytes: size, masked: true, impl: wsLabel,
      setup: () => ({ fn: () => bufferUtil.unmask(data, MASK), perCall: 1 }),
    });
  }
}

for (const c of cases) {
  const results: number[] = [];
  for (let r = 0; r < runs; r++) {
    const { fn, perCall, check } = c.setup();
    results.push(measure(fn, perCall));
    check?.();
  }
  const framesPerS = median(results);
  const out = { op: c.op, size: c.size, bytes: c.bytes, masked: c.masked, impl: c.impl, frames_s: framesPerS, gb_s: (framesPerS * c.bytes) / 1e9, runs: results };
  process.stderr.write(
    `  micro ${c.op.padEnd(9)} ${c.size.padEnd(22)} ${c.masked ? 'masked  ' : 'unmasked'} ${c.impl.padEnd(8)} ${fmt(framesPerS)} frames/s  ${out.gb_s.toFixed(2)} GB/s\n`,
  );
  console.log(JSON.stringify(out));
}
if (sink === 0.5) console.error(sink);

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0);
}
