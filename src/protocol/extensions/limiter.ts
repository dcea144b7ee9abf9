/**
 * Caps how many zlib operations run at once across all connections. Each running operation holds
 * zlib's working memory; thousands of connections compressing at the same moment would otherwise
 * hold thousands of them (the memory fragmentation that hurt the `ws` package's users).
 */
type Job = () => void;

export class Limiter {
  private running = 0;
  private readonly queue: Job[] = [];

  constructor(readonly concurrency: number) {}

  /** Operations running now (never above `concurrency`). */
  get active(): number {
    return this.running;
  }

  /** Operations waiting for a slot. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Runs `job` now or when a slot frees; the job must call `done()` exactly once. */
  run(job: Job): void {
    if (this.running < this.concurrency) {
      this.running++;
      job();
    } else {
      this.queue.push(job);
    }
  }

  done(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.running--;
  }
}

/** Shared by every connection in the process. */
export const zlibLimiter = new Limiter(10);
