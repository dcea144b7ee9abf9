/**
 * The server side of rfc6455.topics.v1 (wire format in topics-wire.ts): a connection that
 * negotiated the subprotocol subscribes itself by sending `subscribe` frames, each authorized by
 * the server's `authorizeTopic` hook. Protocol frames are taken out of the connection's message
 * stream before the application sees it; everything else reaches 'message' as usual.
 */
import { TOPICS_PROTOCOL, isPosition, type Position } from './history.js';
import { encode, isControl, parseControl, type ClientCommand } from './topics-wire.js';
import type { WebSocket } from './websocket.js';

/** May this connection subscribe to this topic (from `since`, when it resumes)? Default: yes. */
export type AuthorizeTopic = (ws: WebSocket, topic: string, since: Position | null) => boolean | Promise<boolean>;

/** What the protocol needs from the topics registry (PubSub). */
export interface SessionHost {
  /** Subscribes `ws` to `topic` for the protocol, resuming from `since`; replaces a subscription it had. */
  join(ws: WebSocket, topic: string, since: Position | null, id: number | undefined): void;
  leave(ws: WebSocket, topic: string): boolean;
}

const MAX_TOPIC = 1024;

export class TopicsProtocol {
  /** Commands of one connection run one after the other (authorization may be async). */
  private readonly chains = new WeakMap<WebSocket, Promise<void>>();

  constructor(
    private readonly host: SessionHost,
    private readonly authorize: AuthorizeTopic | undefined,
  ) {}

  /** Takes over the protocol's frames of a connection that negotiated the subprotocol. */
  accept(ws: WebSocket): void {
    if (ws.protocol !== TOPICS_PROTOCOL) return;
    const deliver = ws.onTransportMessage;
    // Intercepting here, the one place messages enter, keeps protocol frames away from every
    // way the application reads ('message', onmessage, async iteration) without a flag on each.
    ws.onTransportMessage = (data: Buffer, isBinary: boolean) => {
      if (!isBinary && isControl(data)) this.enqueue(ws, data);
      else deliver.call(ws, data, isBinary);
    };
  }

  private enqueue(ws: WebSocket, data: Buffer): void {
    const previous = this.chains.get(ws) ?? Promise.resolve();
    const next = previous.then(() => this.command(ws, data)).catch(() => {});
    this.chains.set(ws, next);
  }

  private async command(ws: WebSocket, data: Buffer): Promise<void> {
    const command = parseControl<ClientCommand>(data);
    const id = typeof command?.id === 'number' ? command.id : undefined;
    const topic = command?.topic;
    if (!command || typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC) {
      return void ws.send(encode({ $topics: 'error', id, reason: 'invalid command' }));
    }
    if (command.$topics === 'unsubscribe') {
      this.host.leave(ws, topic);
      return void ws.send(encode({ $topics: 'unsubscribed', topic, id }));
    }
    if (command.$topics !== 'subscribe' || (command.since !== undefined && !isPosition(command.since))) {
      return void ws.send(encode({ $topics: 'error', topic, id, reason: 'invalid command' }));
    }
    const since = command.since ?? null;
    let allowed: boolean;
    try {
      allowed = this.authorize ? (await this.authorize(ws, topic, since)) === true : true;
    } catch {
      // A hook that fails refuses: the client is told, the connection stays up.
      allowed = false;
    }
    if (ws.readyState !== ws.OPEN) return;
    if (!allowed) return void ws.send(encode({ $topics: 'error', topic, id, reason: 'forbidden' }));
    this.host.join(ws, topic, since, id);
  }
}
