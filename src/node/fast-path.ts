/**
 * Whether the raw fast path (raw-wire.ts) may run, decided once, at first use, by looking — never
 * by trying. It drives libuv's stream handles the way node's own net.Socket does, through parts
 * of Node that are not public API: the `_handle` of a socket, its `onread`, `useUserBuffer`,
 * `readStart`/`readStop`, `writeBuffer`/`writev`, and `process.binding('stream_wrap')` (WriteWrap
 * and the shared stream state; DEP0111, documentation-only). A call of the wrong shape there is a
 * C++ assertion that kills the process, uncatchable, so the path runs only on the Node majors the
 * project tests, and only when what it will call has the expected shape:
 *
 * - Node 20 and 22: `writeBuffer(req, buffer)` with a WriteWrap made here; the stream state has no
 *   `kLastWriteErr`.
 * - Node 24: `writeBuffer(null, buffer)`, which returns a status or the WriteWrap it made; the
 *   state has `kLastWriteErr`.
 *
 * `RFC6455_FAST_PATH=0` in the environment (or `setFastPath(false)`) turns it off; everything then
 * runs on the documented stream path.
 */

/** What the raw wire uses, found and checked once. */
export interface FastPath {
  /** Node 24's writes: the handle makes the WriteWrap (`write*(null, …)`). */
  readonly handleMakesRequests: boolean;
  readonly WriteWrap: new () => object;
  readonly state: Int32Array;
  readonly kReadBytesOrError: number;
  readonly kBytesWritten: number;
  readonly kLastWriteWasAsync: number;
  readonly kLastWriteErr: number;
  /** Where a read's bytes start in the ArrayBuffer handed to `onread` (no user buffer set). */
  readonly kArrayBufferOffset: number;
  readonly ShutdownWrap: new () => object;
}

const TESTED_MAJORS = new Set([20, 22, 24]);
const HANDLE_METHODS = ['readStart', 'readStop', 'useUserBuffer', 'writeBuffer', 'writev', 'close'] as const;

let decided: FastPath | null | undefined;
let forced: boolean | undefined;

/** The fast path's bindings, or null when it must not run here (why: `fastPathStatus()`). */
export function fastPath(): FastPath | null {
  if (forced === false) return null;
  if (decided === undefined) decided = detect();
  return decided;
}

/** Turns the fast path off (or back on, where the self-check passes) for connections taken from now on. */
export function setFastPath(enabled: boolean): void {
  forced = enabled;
}

/** Whether the fast path runs for new connections, and if not, why. */
export function fastPathStatus(): { enabled: boolean; reason: string } {
  if (forced === false) return { enabled: false, reason: 'turned off (setFastPath(false))' };
  if (decided === undefined) decided = detect();
  return decided ? { enabled: true, reason: `Node ${process.versions.node}: raw TCP and TLS handles` } : { enabled: false, reason: whyNot };
}

let whyNot = '';

function detect(): FastPath | null {
  const setting = process.env.RFC6455_FAST_PATH;
  if (setting === '0' || setting === 'false' || setting === 'off') return refuse('turned off (RFC6455_FAST_PATH=0)');
  const major = Number(process.versions.node.split('.')[0]);
  if (!TESTED_MAJORS.has(major)) return refuse(`Node ${process.versions.node} is not a version the fast path is tested on`);
  let binding: Record<string, unknown>;
  try {
    // Not every runtime that looks like Node has it (or allows it): then the stream path runs.
    binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding('stream_wrap');
  } catch {
    return refuse('process.binding("stream_wrap") is not available');
  }
  const { WriteWrap, ShutdownWrap, streamBaseState, kReadBytesOrError, kBytesWritten, kLastWriteWasAsync, kLastWriteErr, kArrayBufferOffset } = binding;
  if (typeof WriteWrap !== 'function' || typeof ShutdownWrap !== 'function' || !(streamBaseState instanceof Int32Array)) {
    return refuse('stream_wrap has an unexpected shape');
  }
  const indices = [kReadBytesOrError, kBytesWritten, kLastWriteWasAsync, kArrayBufferOffset];
  if (!indices.every((i) => typeof i === 'number' && Number.isInteger(i) && i >= 0 && i < streamBaseState.length)) {
    return refuse('stream_wrap has an unexpected shape');
  }
  // The write signature follows the major, and the state says which one this build has: both
  // must agree, or we do not guess.
  const handleMakesRequests = major >= 24;
  const hasWriteErr = typeof kLastWriteErr === 'number' && kLastWriteErr >= 0 && kLastWriteErr < streamBaseState.length;
  if (hasWriteErr !== handleMakesRequests) return refuse(`Node ${process.versions.node}: stream_wrap does not match the write signature expected`);
  return {
    handleMakesRequests,
    WriteWrap: WriteWrap as new () => object,
    state: streamBaseState,
    kReadBytesOrError: kReadBytesOrError as number,
    kBytesWritten: kBytesWritten as number,
    kLastWriteWasAsync: kLastWriteWasAsync as number,
    kLastWriteErr: hasWriteErr ? (kLastWriteErr as number) : -1,
    kArrayBufferOffset: kArrayBufferOffset as number,
    ShutdownWrap: ShutdownWrap as new () => object,
  };
}

function refuse(reason: string): null {
  whyNot = reason;
  return null;
}

const checkedPrototypes = new WeakSet<object>();

/**
 * The handles the raw wire drives: libuv's TCP handle, and node:tls's TLSWrap (a stream handle over
 * the TCP one: its reads are the decrypted bytes, its writes are encrypted before they go down).
 */
const RAW_HANDLES = new Set(['TCP', 'TLSWrap']);

/** Whether a socket's handle is a stream handle the raw wire knows, with every method it calls. */
export function isRawHandle(handle: unknown): boolean {
  if (typeof handle !== 'object' || handle === null) return false;
  const proto = Object.getPrototypeOf(handle) as object | null;
  if (proto === null) return false;
  if (checkedPrototypes.has(proto)) return true;
  if (!RAW_HANDLES.has((handle as { constructor?: { name?: string } }).constructor?.name ?? '')) return false;
  for (const name of HANDLE_METHODS) if (typeof (handle as Record<string, unknown>)[name] !== 'function') return false;
  if (!('onread' in handle) || typeof (handle as { onread: unknown }).onread !== 'function') return false;
  checkedPrototypes.add(proto);
  return true;
}
