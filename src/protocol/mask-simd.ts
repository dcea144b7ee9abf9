/**
 * XOR masking with WebAssembly SIMD (128 bits at a time, 64 bytes per iteration), for long
 * payloads. WebAssembly cannot see a Buffer's memory, so the bytes are copied into the module's
 * memory, unmasked there, and copied back: two native copies, still about twice the speed of the
 * 64-bit JS loop from a few KiB up (bench/micro/wasm-simd.mjs; the threshold is in mask.ts).
 * Where WebAssembly or its SIMD is missing, `simdUnmasker()` is null and the JS loop runs.
 *
 * The module, as WebAssembly text (assembled by hand into the bytes below; no dependency):
 *
 *   (module (memory (export "mem") 64)
 *    (func (export "unmask") (param $p i32) (param $n i32) (param $m i32)
 *     (local $v v128) (local $end i32)
 *     (local.set $v (i32x4.splat (local.get $m)))
 *     (local.set $end (i32.add (local.get $p) (i32.and (local.get $n) (i32.const -64))))
 *     (block $b (loop $l
 *       (br_if $b (i32.ge_u (local.get $p) (local.get $end)))
 *       (v128.store (local.get $p) (v128.xor (v128.load (local.get $p)) (local.get $v)))
 *       ... the same at offset=16, offset=32 and offset=48 ...
 *       (local.set $p (i32.add (local.get $p) (i32.const 64)))
 *       (br $l)))))
 *
 * It unmasks whole 64-byte blocks from $p; the caller does the tail (under 64 bytes).
 */
const MODULE =
  'AGFzbQEAAAABBwFgA39/fwADAgEABQMBAEAHEAIDbWVtAgAGdW5tYXNrAAAKbwFtAgF7AX8gAv0RIQMgACABQUBxaiEEAkADQCAAIARPDQEgACAA/QAEACAD/VH9CwQAIAAgAP0ABBAgA/1R/QsEECAAIAD9AAQgIAP9Uf0LBCAgACAA/QAEMCAD/VH9CwQwIABBwABqIQAMAAsLCw==';

/**
 * Bytes unmasked per call into the module (a multiple of 64). Small enough that the module's
 * memory stays in the L1/L2 cache between the copy in, the XOR and the copy out: the copies then
 * cost one pass over the payload each way, not three (16 KiB: ~30 GB/s with the copies on a quiet
 * machine, against 11–12 GB/s when 1 MiB went through at once).
 */
const CHUNK = 16 * 1024;

interface Unmasker {
  unmask(pointer: number, length: number, mask: number): void;
  heap: Uint8Array;
}

let unmasker: Unmasker | null | undefined;

/** The part of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface Wasm {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

/** The compiled module, or null where WebAssembly SIMD is not available (or turned off). */
export function simdUnmasker(): Unmasker | null {
  if (unmasker !== undefined) return unmasker;
  unmasker = null;
  if (typeof process !== 'undefined' && process.env?.RFC6455_WASM_SIMD === '0') return null;
  const wasm = (globalThis as { WebAssembly?: Wasm }).WebAssembly;
  if (wasm === undefined) return null;
  try {
    const bytes = Uint8Array.from(atob(MODULE), (c) => c.charCodeAt(0));
    // Validation fails where SIMD is not supported: the JS loop then runs.
    if (!wasm.validate(bytes)) return null;
    const instance = new wasm.Instance(new wasm.Module(bytes));
    const exports = instance.exports as { unmask: Unmasker['unmask']; mem: { buffer: ArrayBuffer } };
    unmasker = { unmask: exports.unmask, heap: new Uint8Array(exports.mem.buffer) };
  } catch {
    unmasker = null;
  }
  return unmasker;
}

/**
 * XORs `length` bytes of `source` from `sourceOffset` with `mask` (from mask index `phase`) into
 * `target` at `targetOffset`, through the module's memory. Source and target may overlap exactly
 * (in place).
 */
export function simdMask(
  u: Unmasker,
  source: Uint8Array,
  sourceOffset: number,
  target: Uint8Array,
  targetOffset: number,
  length: number,
  mask: Uint8Array,
  phase: number,
): void {
  const heap = u.heap;
  // The mask word as the module reads it (little-endian), starting at `phase`; CHUNK is a
  // multiple of 4, so every chunk starts at the same phase.
  const m0 = mask[phase & 3];
  const m1 = mask[(phase + 1) & 3];
  const m2 = mask[(phase + 2) & 3];
  const m3 = mask[(phase + 3) & 3];
  const word = m0 | (m1 << 8) | (m2 << 16) | (m3 << 24);
  for (let done = 0; done < length; done += CHUNK) {
    const n = Math.min(CHUNK, length - done);
    heap.set(source.subarray(sourceOffset + done, sourceOffset + done + n), 0);
    u.unmask(0, n, word);
    let i = n & ~63;
    for (; i + 3 < n; i += 4) {
      heap[i] ^= m0;
      heap[i + 1] ^= m1;
      heap[i + 2] ^= m2;
      heap[i + 3] ^= m3;
    }
    if (i < n) heap[i++] ^= m0;
    if (i < n) heap[i++] ^= m1;
    if (i < n) heap[i] ^= m2;
    target.set(heap.subarray(0, n), targetOffset + done);
  }
}
