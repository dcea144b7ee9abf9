// What WebAssembly SIMD unmasking would give, beside our 64-bit JS loop (applyMask from dist/):
// in WebAssembly memory, and with the copy in and out that a socket's buffers (which live outside
// that memory) would need. A probe for deciding, not used by the library.
// Usage: npm run build && taskset -c 1 node bench/micro/wasm-simd.mjs
import { applyMask } from '../../dist/protocol/index.js';

// Compiled from this WebAssembly text (wabt's wat2wasm with SIMD), 64 bytes per iteration:
// (module (memory (export "mem") 64)
//  (func (export "unmask") (param $p i32) (param $n i32) (param $m i32)
//   (local $v v128) (local $end i32)
//   (local.set $v (i32x4.splat (local.get $m)))
//   (local.set $end (i32.add (local.get $p) (i32.and (local.get $n) (i32.const -64))))
//   (block $b (loop $l
//     (br_if $b (i32.ge_u (local.get $p) (local.get $end)))
//     (v128.store (local.get $p) (v128.xor (v128.load (local.get $p)) (local.get $v)))
//     ... the same at offset=16, offset=32 and offset=48 ...
//     (local.set $p (i32.add (local.get $p) (i32.const 64)))
//     (br $l)))))
const MODULE =
  'AGFzbQEAAAABBwFgA39/fwADAgEABQMBAEAHEAIDbWVtAgAGdW5tYXNrAAAKbwFtAgF7AX8gAv0RIQMgACABQUBxaiEEAkADQCAAIARPDQEgACAA/QAEACAD/VH9CwQAIAAgAP0ABBAgA/1R/QsEECAAIAD9AAQgIAP9Uf0LBCAgACAA/QAEMCAD/VH9CwQwIABBwABqIQAMAAsLCw==';
const { instance } = await WebAssembly.instantiate(Buffer.from(MODULE, 'base64'));
const { unmask, mem } = instance.exports;
const heap = new Uint8Array(mem.buffer);
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const maskWord = MASK.readInt32LE(0);

function gbPerSecond(size, fn) {
  const runs = [];
  for (let run = 0; run < 3; run++) {
    const start = process.hrtime.bigint();
    let calls = 0;
    while (process.hrtime.bigint() - start < 400_000_000n) {
      for (let k = 0; k < 16; k++) fn();
      calls += 16;
    }
    runs.push((calls * size) / Number(process.hrtime.bigint() - start));
  }
  return runs.sort((a, b) => a - b)[1];
}

for (const size of [16 * 1024, 1024 * 1024]) {
  const data = Buffer.alloc(size, 120);
  const expected = Buffer.from(data);
  applyMask(expected, 0, expected, 0, size, MASK);
  heap.set(data, 0);
  unmask(0, size, maskWord);
  if (!expected.equals(heap.subarray(0, size))) throw new Error('WebAssembly and applyMask disagree');
  const rows = {
    'WebAssembly SIMD, in its own memory': () => unmask(0, size, maskWord),
    'WebAssembly SIMD, copy in and out': () => {
      heap.set(data, 0);
      unmask(0, size, maskWord);
      data.set(heap.subarray(0, size));
    },
    'applyMask (64-bit JS), in place': () => applyMask(data, 0, data, 0, size, MASK),
  };
  for (const [name, fn] of Object.entries(rows)) {
    console.log(`${String(size / 1024).padStart(5)} KiB  ${name.padEnd(38)} ${gbPerSecond(size, fn).toFixed(1)} GB/s`);
  }
}
