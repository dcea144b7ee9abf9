import { WebSocket } from './node/websocket.js';
import { WebSocketServer } from './node/server.js';
import { connect } from './node/connect.js';
import { HandshakeError } from './node/errors.js';
import { Message } from './node/message.js';
import { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent } from './node/events.js';
import { toPrometheus } from './node/stats.js';
import { CloseCode, Opcode } from './protocol/constants.js';
import { ProtocolError } from './protocol/errors.js';
import { LocalBroker } from './node/broker.js';
import { ReconnectingWebSocket, QueueFullError } from './node/reconnecting.js';
import { createWebSocketStream } from './node/stream.js';
import { PublishError, TOPICS_PROTOCOL } from './node/history.js';
import { TopicTracker } from './node/topic-client.js';

export {
  WebSocket,
  type BinaryType,
  type BinaryTypes,
  type RawData,
  type Data,
  type SendData,
  type SendOptions,
  type ListenerOptions,
  type SendCallback,
  type WebSocketEventMap,
} from './node/websocket.js';
export {
  WebSocketServer,
  type ServerOptions,
  type VerifyInfo,
  type ServerRequest,
  type CloseOptions,
  type WebSocketServerEventMap,
  type HandshakeRequestError,
} from './node/server.js';
export type { OriginRule } from './node/origins.js';
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
export { TOPICS_PROTOCOL, PublishError, type Position, type HistoryOptions, type HistoryOption, type HistoryEntry, type HistoryRead } from './node/history.js';
export type { AuthorizeTopic } from './node/topics-protocol.js';
export { TopicTracker, type TopicMessage, type GapInfo, type SubscribedInfo, type TopicEvent } from './node/topic-client.js';
export type { HandshakeMessage, OpenMessage, CloseMessage, ErrorMessage } from './node/diagnostics.js';

// The default export is the WebSocket class carrying the rest of the API as statics, as the ws
// package's main export does: `WebSocket.Server` and `const { WebSocketServer } = require(...)`
// code runs unchanged, and CommonJS code (which gets only this value) reaches everything.
// The statics are declared here, merged into the class, and set below: a new one goes in both.
type BinaryType = import('./node/websocket.js').BinaryType;
type Socket<User = any> = WebSocket<any, User>;
declare module './node/websocket.js' {
  namespace WebSocket {
    let WebSocket: typeof import('./node/websocket.js').WebSocket;
    let WebSocketServer: typeof import('./node/server.js').WebSocketServer;
    /** The ws name of `WebSocketServer`. */
    let Server: typeof import('./node/server.js').WebSocketServer;
    // The types ws code names through its default export (`WebSocket.Server`, `WebSocket.RawData`).
    type WebSocketServer<User = unknown, W extends Socket = Socket<User>> = import('./node/server.js').WebSocketServer<User, W>;
    type Server<User = unknown, W extends Socket = Socket<User>> = import('./node/server.js').WebSocketServer<User, W>;
    type ServerOptions<User = unknown, W extends Socket = Socket<User>> = import('./node/server.js').ServerOptions<User, W>;
    type RawData<B extends BinaryType = BinaryType> = import('./node/websocket.js').RawData<B>;
    type Data = import('./node/websocket.js').Data;
    type ClientOptions = import('./node/client.js').ClientOptions;
    let connect: typeof import('./node/connect.js').connect;
    let HandshakeError: typeof import('./node/errors.js').HandshakeError;
    let Message: typeof import('./node/message.js').Message;
    let CloseEvent: typeof import('./node/events.js').CloseEvent;
    let ErrorEvent: typeof import('./node/events.js').ErrorEvent;
    let MessageEvent: typeof import('./node/events.js').MessageEvent;
    let WebSocketEvent: typeof import('./node/events.js').WebSocketEvent;
    let toPrometheus: typeof import('./node/stats.js').toPrometheus;
    let CloseCode: typeof import('./protocol/constants.js').CloseCode;
    let Opcode: typeof import('./protocol/constants.js').Opcode;
    let ProtocolError: typeof import('./protocol/errors.js').ProtocolError;
    let LocalBroker: typeof import('./node/broker.js').LocalBroker;
    let ReconnectingWebSocket: typeof import('./node/reconnecting.js').ReconnectingWebSocket;
    let QueueFullError: typeof import('./node/reconnecting.js').QueueFullError;
    let createWebSocketStream: typeof import('./node/stream.js').createWebSocketStream;
    let TOPICS_PROTOCOL: typeof import('./node/history.js').TOPICS_PROTOCOL;
    let PublishError: typeof import('./node/history.js').PublishError;
    let TopicTracker: typeof import('./node/topic-client.js').TopicTracker;
  }
}
Object.assign(WebSocket, {
  WebSocket,
  WebSocketServer,
  Server: WebSocketServer,
  connect,
  HandshakeError,
  Message,
  CloseEvent,
  ErrorEvent,
  MessageEvent,
  WebSocketEvent,
  toPrometheus,
  CloseCode,
  Opcode,
  ProtocolError,
  LocalBroker,
  ReconnectingWebSocket,
  QueueFullError,
  createWebSocketStream,
  TOPICS_PROTOCOL,
  PublishError,
  TopicTracker,
});

export default WebSocket;
// A CommonJS require of this package returns this value instead of the module namespace (Node's require(esm),
// 20.19+ and 22.12+): the class, as requiring ws returns ws's.
export { WebSocket as 'module.exports' };
