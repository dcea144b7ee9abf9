/**
 * What this process holds, for tests that attack a limit: heap and ArrayBuffer memory after a full
 * collection. `gc` is reached without --expose-gc on the command line (vitest starts the workers).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** heapUsed + arrayBuffers, in bytes, after collecting garbage. */
export function heldBytes(): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

export const MiB = 1024 * 1024;
