export { WebSocket, type BinaryType, type Data, type SendOptions, type SendCallback, type WebSocketEventMap } from './node/websocket.js';
export { WebSocketServer, type ServerOptions, type VerifyInfo, type CloseOptions, type WebSocketServerEventMap } from './node/server.js';
export { connect } from './node/connect.js';
export type { ClientOptions } from './node/client.js';
export { HandshakeError } from './node/errors.js';
export { Message } from './node/message.js';
export { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent } from './node/events.js';
export type { HeartbeatOptions, BackpressureOptions, PolicyOptions } from './node/policies.js';
export type { RateLimitOptions } from './node/rate-limit.js';
export { toPrometheus, type StatsSnapshot } from './node/stats.js';
export type { DeflateOptions } from './protocol/extensions/permessage-deflate.js';
export { CloseCode, Opcode } from './protocol/constants.js';
export { ProtocolError } from './protocol/errors.js';
export { LocalBroker, type Broker, type BrokerLink, type BrokerSink } from './node/broker.js';
export type { PublishOptions } from './node/topics.js';
export {
  ReconnectingWebSocket,
  QueueFullError,
  type ReconnectingOptions,
  type ReconnectOptions,
  type QueueOptions,
  type DisconnectInfo,
  type ReconnectingEventMap,
} from './node/reconnecting.js';
export { TOPICS_PROTOCOL, PublishError, type Position, type HistoryOptions, type HistoryOption, type HistoryEntry, type HistoryRead } from './node/history.js';
export type { AuthorizeTopic } from './node/topics-protocol.js';
export { TopicTracker, type TopicMessage, type GapInfo, type SubscribedInfo, type TopicEvent } from './node/topic-client.js';
