/**
 * The rfc6455.topics.v1 wire format, shared by the server and the clients. Every frame of the
 * protocol is a text frame holding one JSON object whose first key is "$topics" — so it begins
 * with the bytes `{"$topics":` — and anything else on the connection is the application's own.
 * The README ("Resumable topics") specifies each message.
 */
import type { Position } from './history.js';

export const MARK = '{"$topics":';
const MARK_BYTES = Buffer.from(MARK);

/** Client → server. */
export type ClientCommand =
  | { $topics: 'subscribe'; topic: string; since?: Position; id?: number }
  | { $topics: 'unsubscribe'; topic: string; id?: number };

/** Server → client. */
export type ServerEvent =
  | { $topics: 'message'; topic: string; offset?: number; epoch?: string; data?: string; b64?: string }
  | { $topics: 'subscribed'; topic: string; id?: number; history: boolean; epoch?: string; offset?: number; recovered?: boolean; next?: number }
  | { $topics: 'gap'; topic: string; epoch: string; next: number }
  | { $topics: 'unsubscribed'; topic: string; id?: number }
  | { $topics: 'error'; topic?: string; id?: number; reason: string };

/** Whether a text frame is one of the protocol's: a prefix check, no parse. */
export function isControl(data: Buffer | string): boolean {
  if (typeof data === 'string') return data.startsWith(MARK);
  return data.length > MARK_BYTES.length && data.subarray(0, MARK_BYTES.length).equals(MARK_BYTES);
}

/** A protocol frame as an object, or null when it is not valid JSON of the right shape. */
export function parseControl<T extends { $topics: string }>(data: Buffer | string): T | null {
  try {
    const value = JSON.parse(typeof data === 'string' ? data : data.toString()) as T;
    return typeof value === 'object' && value !== null && typeof value.$topics === 'string' ? value : null;
  } catch {
    return null;
  }
}

/**
 * One published message for protocol clients; the server builds it once per message. Written as
 * text directly (the bytes JSON.stringify would give for the `message` object, keys in the same
 * order): this runs once per publish, and the object, its keys and their escaping cost more than
 * the message. `topicJson` is JSON.stringify(topic), which a feed computes once.
 */
export function encodeMessage(topic: string, data: Buffer, isBinary: boolean, position: Position | null, topicJson = JSON.stringify(topic)): Buffer {
  let text = '{"$topics":"message","topic":' + topicJson;
  if (position) text += ',"offset":' + position.offset + ',"epoch":' + JSON.stringify(position.epoch);
  text += isBinary ? ',"b64":"' + data.toString('base64') + '"}' : ',"data":' + JSON.stringify(data.toString()) + '}';
  return Buffer.from(text);
}

export function encode(event: ServerEvent | ClientCommand): string {
  return JSON.stringify(event);
}
