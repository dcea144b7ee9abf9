/** Event helpers with timeouts, so a missing event fails the test instead of hanging it. */
import type { EventEmitter } from 'node:events';

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the arguments of the next `event`, rejects after `ms`. */
export function once<T extends unknown[] = unknown[]>(emitter: EventEmitter, event: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(`no '${event}' event within ${ms} ms`));
    }, ms);
    const onEvent = (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args as T);
    };
    emitter.once(event, onEvent);
  });
}

/** Polls `predicate` until it holds, rejects after `ms`. */
export async function waitFor(predicate: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await delay(5);
  }
}

export interface Closed {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** The 'close' event of one of our WebSockets (listen before it can fire). */
export function closed(ws: EventEmitter, ms = 5000): Promise<Closed> {
  return once<[number, Buffer, boolean]>(ws, 'close', ms).then(([code, reason, wasClean]) => ({
    code,
    reason: reason.toString('utf8'),
    wasClean,
  }));
}

/** The next 'message' of one of our WebSockets. */
export function nextMessage(ws: EventEmitter, ms = 5000): Promise<{ data: any; isBinary: boolean }> {
  return once<[any, boolean]>(ws, 'message', ms).then(([data, isBinary]) => ({ data, isBinary }));
}

/** Collects every 'message' into an array, as strings for text and Buffers for binary. */
export function collect(ws: EventEmitter): Array<string | Buffer> {
  const out: Array<string | Buffer> = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => out.push(isBinary ? data : data.toString('utf8')));
  return out;
}
