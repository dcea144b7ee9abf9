/**
 * Per-test cleanup: `const defer = useCleanup()` at the top of a test file registers an afterEach
 * that runs every deferred function (last first), so no server or socket outlives its test and the
 * run never hangs on an open handle.
 */
import { afterEach } from 'vitest';

export type Defer = (fn: () => unknown) => void;

export function useCleanup(): Defer {
  const pending: Array<() => unknown> = [];
  afterEach(async () => {
    const fns = pending.splice(0).reverse();
    for (const fn of fns) {
      try {
        await fn();
      } catch {
        // Cleanup of something a test already tore down: nothing to report.
      }
    }
  });
  return (fn) => void pending.push(fn);
}
