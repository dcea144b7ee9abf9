// Where WebAssembly SIMD unmasking (copies in and out included) overtakes the 64-bit JS loop:
// both through applyMask's internals, in place and into another buffer, at sizes around the
// threshold. Usage: npm run build && taskset -c 1 node bench/micro/mask-threshold.mjs
import { simdMask, simdUnmasker } from '../../dist/protocol/mask-simd.js';
import { applyMask, SIMD_THRESHOLD } from '../../dist/protocol/mask.js';

const u = simdUnmasker();
if (!u) throw new Error('no WebAssembly SIMD here');
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

function rate(size, fn) {
  const runs = [];
  for (let run = 0; run < 5; run++) {
    const start = process.hrtime.bigint();
    let calls = 0;
    while (process.hrtime.bigint() - start < 150_000_000n) {
      for (let k = 0; k < 64; k++) fn();
      calls += 64;
    }
    runs.push((calls * size) / Number(process.hrtime.bigint() - start));
  }
  return runs.sort((a, b) => a - b)[2];
}

// The JS loop alone: applyMask below the threshold is the word loop; above it, call with pieces
// that stay under the threshold would change the work, so the word loop is reached by sizes < threshold only.
console.log(`SIMD_THRESHOLD = ${SIMD_THRESHOLD}`);
console.log('size      JS 64-bit in place   SIMD in place   JS copy   SIMD copy   (GB/s)');
for (const size of [128, 256, 512, 1024, 1536, 2048, 4096, 16384, 65536, 1 << 20]) {
  const data = Buffer.alloc(size + 8, 120);
  const out = Buffer.alloc(size + 8);
  const jsLoop = (src, so, dst, to) => {
    // Pieces under the threshold: the word loop, with the same total work.
    const piece = Math.min(size, SIMD_THRESHOLD - 8);
    for (let at = 0; at < size; at += piece) applyMask(src, so + at, dst, to + at, Math.min(piece, size - at), MASK, 0);
  };
  const a = rate(size, () => jsLoop(data, 0, data, 0));
  const b = rate(size, () => simdMask(u, data, 0, data, 0, size, MASK, 0));
  const c = rate(size, () => jsLoop(data, 0, out, 0));
  const d = rate(size, () => simdMask(u, data, 0, out, 0, size, MASK, 0));
  console.log(`${String(size).padStart(8)}  ${a.toFixed(2).padStart(10)}  ${b.toFixed(2).padStart(14)}  ${c.toFixed(2).padStart(9)}  ${d.toFixed(2).padStart(10)}`);
}
