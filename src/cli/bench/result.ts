/**
 * What one measured window gives, from either load generator, and the JSON that `bench --json`
 * prints (its `schema` number changes whenever a field's meaning does).
 */
export type Mode = 'echo' | 'churn' | 'broadcast';

export interface Figures {
  /** Length of the measured window. */
  seconds: number;
  /** Echoes received (echo), handshakes completed (churn), deliveries (broadcast). */
  count: number;
  per_s: number;
  /** Payload megabytes (10^6) received per second. */
  mb_per_s: number;
  /** Round trip (echo), handshake (churn), send to last delivery of a fan-out (broadcast), in µs. */
  latency_us: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  /** CPU time of the load generator over the window, per second of it (1 = one core busy). */
  loadgen_cpu: number;
  /** The generator kept its core busy: the figure says what it could drive, the server may do more. */
  lower_bound: boolean;
}

export const SCHEMA = 1;

/** Above this share of a core the generator, not the server, may have set the pace. */
export const SATURATED = 0.9;

/** Latencies in 1 µs buckets up to half a second, the rest in one overflow bucket (as the C one). */
export class Histogram {
  private static readonly LIMIT = 500_000;
  private readonly buckets = new Uint32Array(Histogram.LIMIT + 1);
  private n = 0;
  private top = 0;

  record(us: number): void {
    const value = Math.max(0, Math.round(us));
    if (value > this.top) this.top = value;
    this.buckets[Math.min(value, Histogram.LIMIT)]++;
    this.n++;
  }

  percentile(p: number): number {
    if (this.n === 0) return 0;
    const target = Math.min(Math.floor(p * this.n), this.n - 1);
    let seen = 0;
    for (let i = 0; i <= Histogram.LIMIT; i++) {
      seen += this.buckets[i];
      if (seen > target) return i === Histogram.LIMIT ? this.top : i;
    }
    return this.top;
  }

  get max(): number {
    return this.top;
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length === 0 ? 0 : sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
