// The client side of rfc6455.topics.v1 for the browser (the Node client has the same logic in
// src/node/topic-client.ts; the wire format is in the README, "Resumable topics"). It remembers
// the topics wanted and the last position delivered on each, builds the frames that subscribe
// again from there after a reconnection, and turns the server's frames into events: each offset
// once and in order — a duplicate (same epoch, offset at or below the last) is dropped, a jump
// or a new epoch is reported as a gap, whichever server the frames come from.
export const TOPICS_PROTOCOL = 'rfc6455.topics.v1';
const MARK = '{"$topics":';

export const isControl = (data) => typeof data === 'string' && data.startsWith(MARK);

function decodeBase64(b64) {
  const text = atob(b64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

export class TopicTracker {
  constructor() {
    // topic → { offset, epoch } of the last message delivered, or null before the first
    this.wanted = new Map();
  }

  /** Remembers the topic (from `since`, when given) and returns the frame that subscribes to it. */
  subscribe(topic, since) {
    if (since !== undefined || !this.wanted.has(topic)) this.wanted.set(topic, since ?? null);
    return this.frame(topic);
  }

  unsubscribe(topic) {
    return this.wanted.delete(topic) ? JSON.stringify({ $topics: 'unsubscribe', topic }) : null;
  }

  position(topic) {
    return this.wanted.get(topic) ?? null;
  }

  /** On every new connection: subscribe again to each topic, from its last position. */
  resumeFrames() {
    return [...this.wanted.keys()].map((topic) => this.frame(topic));
  }

  frame(topic) {
    const since = this.wanted.get(topic);
    return JSON.stringify(since ? { $topics: 'subscribe', topic, since } : { $topics: 'subscribe', topic });
  }

  /** A protocol frame from the server → a list of [type, detail] for the application. */
  handle(text) {
    let event;
    try {
      event = JSON.parse(text);
    } catch {
      return [];
    }
    switch (event?.$topics) {
      case 'message':
        return this.message(event);
      case 'subscribed':
        return this.subscribed(event);
      case 'gap':
        return this.gap(event.topic, event.epoch, event.next, false);
      case 'error':
        if (event.topic !== undefined && event.reason === 'forbidden') this.wanted.delete(event.topic);
        return [['refused', { topic: event.topic, reason: String(event.reason) }]];
      default:
        return [];
    }
  }

  message(event) {
    const { topic, offset, epoch } = event;
    if (!this.wanted.has(topic)) return [];
    const data = event.b64 !== undefined ? decodeBase64(event.b64) : (event.data ?? '');
    if (offset === undefined || epoch === undefined) return [['topic', { topic, data }]];
    const last = this.wanted.get(topic);
    if (last && last.epoch === epoch && offset <= last.offset) return [];
    const events = [];
    // The server announces gaps; this catches one it could not.
    if (last && (last.epoch !== epoch || offset !== last.offset + 1)) events.push(...this.gap(topic, epoch, offset, false));
    this.wanted.set(topic, { offset, epoch });
    events.push(['topic', { topic, data, offset, epoch }]);
    return events;
  }

  subscribed(event) {
    const { topic } = event;
    if (!this.wanted.has(topic)) return [];
    const events = [];
    if (event.history && event.epoch !== undefined && event.offset !== undefined) {
      if (event.recovered === false) events.push(...this.gap(topic, event.epoch, event.next ?? event.offset + 1, true));
      else if (event.recovered === undefined) this.wanted.set(topic, { offset: event.offset, epoch: event.epoch });
    }
    events.push(['subscribed', { topic, history: event.history, recovered: event.recovered, position: this.wanted.get(topic) ?? null }]);
    return events;
  }

  // `force`: the server could not resume (its store may even be behind the client): start at `next`.
  gap(topic, epoch, next, force) {
    if (!this.wanted.has(topic)) return [];
    const lost = this.wanted.get(topic) ?? null;
    if (!force && lost && lost.epoch === epoch && lost.offset + 1 >= next) return [];
    this.wanted.set(topic, { offset: next - 1, epoch });
    return [['gap', { topic, lost, next, epoch }]];
  }
}
