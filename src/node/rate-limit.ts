/**
 * A token bucket: `rate` tokens a second, holding at most `burst`. Each connection gets one per
 * limit (messages, bytes); taking from an empty bucket is the signal to act.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number = rate,
  ) {
    this.tokens = burst;
    this.last = performance.now();
  }

  /** Whether `count` tokens are there now (after refilling for the time passed). */
  has(count: number): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    return this.tokens >= count;
  }

  /** Takes `count` tokens if there are enough; false (and nothing taken) otherwise. */
  take(count = 1): boolean {
    if (!this.has(count)) return false;
    this.tokens -= count;
    return true;
  }

  /** Takes tokens already checked with `has()`. */
  spend(count: number): void {
    this.tokens -= count;
  }
}

export interface RateLimitOptions {
  /** Messages a second (the bucket holds one second's worth unless `burst` says otherwise). */
  messagesPerSecond?: number;
  bytesPerSecond?: number;
  /** How many seconds' worth of each budget may be spent at once (default 1). */
  burstSeconds?: number;
  /** 'close' (default): close with 1008. 'drop': discard the message and emit 'rateLimited'. */
  policy?: 'close' | 'drop';
}

/** The two buckets of one connection. */
export class RateLimiter {
  private readonly messages: TokenBucket | null;
  private readonly bytes: TokenBucket | null;

  constructor(readonly options: RateLimitOptions) {
    const burst = options.burstSeconds ?? 1;
    const { messagesPerSecond: m, bytesPerSecond: b } = options;
    this.messages = m ? new TokenBucket(m, m * burst) : null;
    this.bytes = b ? new TokenBucket(b, b * burst) : null;
  }

  /** Whether `messages` messages (0 for a later fragment of one) of `size` bytes fit the budget now. */
  allow(size: number, messages = 1): boolean {
    // A refused message spends nothing from either budget.
    if (this.messages && messages > 0 && !this.messages.has(messages)) return false;
    if (this.bytes && !this.bytes.has(size)) return false;
    if (messages > 0) this.messages?.spend(messages);
    this.bytes?.spend(size);
    return true;
  }
}
