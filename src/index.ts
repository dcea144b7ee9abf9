export { WebSocket, type BinaryType, type Data, type SendData, type SendOptions, type ListenerOptions, type SendCallback, type WebSocketEventMap } from './node/websocket.js';
export { WebSocketServer, type ServerOptions, type VerifyInfo, type CloseOptions, type WebSocketServerEventMap } from './node/server.js';
export { connect } from './node/connect.js';
export { createWebSocketStream } from './node/stream.js';
export type { ClientOptions } from './node/client.js';
export { HandshakeError } from './node/errors.js';
export { Message } from './node/message.js';
export {
  CloseEvent,
  ErrorEvent,
  MessageEvent,
  WebSocketEvent,
  type CloseEventInit,
  type ErrorEventInit,
  type MessageEventInit,
  type EventOptions,
} from './node/events.js';
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
