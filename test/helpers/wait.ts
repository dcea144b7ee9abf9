/**
 * Sleeps, and waits with timeouts (events, conditions, promises), so a missing event fails the test
 * instead of hanging it. No vitest in here: the scripts run by hand (load.ts, memory.ts) use it too.
 */
import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

/**
 * Room on top of a deadline for a loaded machine (files run in parallel, and CI boxes are shared):
 * upper bounds on timings catch "never" and "much later"; lower bounds and counts pin the rest.
 */
export const SLACK = Number(process.env.RFC6455_TIMING_SLACK ?? 1000);

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

/** `once` under another name, for files that also import node:events' `once`. */
export const next = once;

/** Polls `predicate` until it holds, rejects after `ms`. */
export async function waitFor(predicate: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await delay(5);
  }
}

/** `promise`, or a rejection naming `what` once `ms` passed. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`deadline passed: ${what} (${ms} ms)`)), ms))),
  ]);
}

/** Resolves when a net.Socket has closed, however (an 'error' before it is not a rejection). */
export function socketClosed(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed && socket.closed ? resolve() : socket.once('close', () => resolve())));
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
