/**
 * Resumable topics, the shared vocabulary: a position (offset and epoch), the history limits a
 * server is configured with, what a broker reads back, and the error a publish fails with.
 *
 * An offset counts the messages of one topic from 1, assigned by the broker when it stores the
 * message, so every server sees one order. The epoch names one unbroken run of offsets: it changes
 * whenever the history can no longer vouch for the offsets before (a store restarted empty, a
 * topic forgotten), so a position from another epoch is never mistaken for one in this one.
 */
import { randomBytes } from 'node:crypto';

/** The subprotocol a client offers to subscribe to topics itself and resume them. */
export const TOPICS_PROTOCOL = 'rfc6455.topics.v1';

export interface Position {
  offset: number;
  epoch: string;
}

export interface HistoryOptions {
  /** Most messages kept per topic (Redis trims approximately: a little more may stay). */
  size: number;
  /** Milliseconds a message stays in history (default: until `size` pushes it out). */
  ttl?: number;
}

/** One set of limits for every topic, or a function of the topic (null: no history for it). */
export type HistoryOption = HistoryOptions | ((topic: string) => HistoryOptions | null | undefined);

export interface HistoryEntry {
  offset: number;
  data: Buffer;
  isBinary: boolean;
}

/** A topic's history as a broker reads it: where it stands, and the entries a resume needs. */
export interface HistoryRead {
  epoch: string;
  /** The last offset assigned in this epoch (0 when none yet). */
  last: number;
  /** In offset order: those after `since.offset` when `since` is of this epoch, else all kept. */
  entries: HistoryEntry[];
}

/** A message on a topic with history was not stored (so no subscriber will get it). */
export class PublishError extends Error {
  override name = 'PublishError';
}

export function newEpoch(): string {
  return randomBytes(6).toString('hex');
}

/** The limits for `topic`, checked, or null when it has no history. */
export function historyFor(option: HistoryOption | undefined, topic: string): HistoryOptions | null {
  if (!option) return null;
  const found = typeof option === 'function' ? option(topic) : option;
  if (!found) return null;
  if (!Number.isInteger(found.size) || found.size < 1) throw new RangeError(`history.size must be a positive integer, not ${found.size}`);
  if (found.ttl !== undefined && !(found.ttl > 0)) throw new RangeError(`history.ttl must be a positive number of ms, not ${found.ttl}`);
  return found;
}

export function isPosition(value: unknown): value is Position {
  const p = value as Position | null;
  return typeof p === 'object' && p !== null && Number.isSafeInteger(p.offset) && p.offset >= 0 && typeof p.epoch === 'string' && p.epoch.length > 0 && p.epoch.length <= 64;
}
