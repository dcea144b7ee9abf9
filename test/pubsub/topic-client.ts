/**
 * A ReconnectingWebSocket speaking rfc6455.topics.v1, with everything it reported in order: the
 * topic messages (offset and text), the gaps, the refusals. Shared by the history tests.
 */
import { ReconnectingWebSocket, type GapInfo, type ReconnectingOptions } from '../../src/index.js';

export interface TopicProbe {
  rws: ReconnectingWebSocket;
  /** "topic offset text" per message, in order of delivery. */
  got: { topic: string; offset: number | undefined; epoch: string | undefined; text: string }[];
  gaps: GapInfo[];
  refused: string[];
  connections: number;
  texts(topic: string): string[];
  offsets(topic: string): (number | undefined)[];
}

export function topicProbe(urls: string | string[], options: ReconnectingOptions = {}): TopicProbe {
  const rws = new ReconnectingWebSocket(urls, {
    topics: true,
    perMessageDeflate: false,
    reconnect: { initialDelay: 50, maxDelay: 300, jitter: 0.3, ...options.reconnect },
    ...options,
  });
  const p: TopicProbe = {
    rws,
    got: [],
    gaps: [],
    refused: [],
    connections: 0,
    texts: (topic) => p.got.filter((m) => m.topic === topic).map((m) => m.text),
    offsets: (topic) => p.got.filter((m) => m.topic === topic).map((m) => m.offset),
  };
  rws.on('topic', (m) => p.got.push({ topic: m.topic, offset: m.offset, epoch: m.epoch, text: m.data.toString() }));
  rws.on('gap', (gap) => p.gaps.push(gap));
  rws.on('refused', (topic, reason) => p.refused.push(`${topic} ${reason}`));
  rws.on('open', () => p.connections++);
  rws.on('error', () => {});
  return p;
}

/** 1..n */
export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
