/**
 * Types for requiring this package from CommonJS. At run time that is the ESM build itself (Node's
 * require(esm) returns its "module.exports" export: the WebSocket class, the rest of the API on
 * it as statics). TypeScript does not read that export name and would type require() as the
 * module namespace, so this file says `export =` the class, with every public type alongside.
 * Copied to dist/ by the build; a name exported from index.ts belongs here too (a test checks).
 * Types come from the modules themselves, not from index.js: a TypeScript that does read the
 * "module.exports" name would see the class there, and one that does not, the namespace.
 */
/// <reference path="./index.d.ts" />
import type * as websocket from './node/websocket.js' with { 'resolution-mode': 'import' };
import type * as server from './node/server.js' with { 'resolution-mode': 'import' };
import type * as origins from './node/origins.js' with { 'resolution-mode': 'import' };
import type * as client from './node/client.js' with { 'resolution-mode': 'import' };
import type * as errors from './node/errors.js' with { 'resolution-mode': 'import' };
import type * as message from './node/message.js' with { 'resolution-mode': 'import' };
import type * as events from './node/events.js' with { 'resolution-mode': 'import' };
import type * as policies from './node/policies.js' with { 'resolution-mode': 'import' };
import type * as rateLimit from './node/rate-limit.js' with { 'resolution-mode': 'import' };
import type * as stats from './node/stats.js' with { 'resolution-mode': 'import' };
import type * as deflate from './protocol/extensions/permessage-deflate.js' with { 'resolution-mode': 'import' };
import type * as constants from './protocol/constants.js' with { 'resolution-mode': 'import' };
import type * as protocolErrors from './protocol/errors.js' with { 'resolution-mode': 'import' };
import type * as broker from './node/broker.js' with { 'resolution-mode': 'import' };
import type * as topics from './node/topics.js' with { 'resolution-mode': 'import' };
import type * as reconnecting from './node/reconnecting.js' with { 'resolution-mode': 'import' };
import type * as history from './node/history.js' with { 'resolution-mode': 'import' };
import type * as topicsProtocol from './node/topics-protocol.js' with { 'resolution-mode': 'import' };
import type * as topicClient from './node/topic-client.js' with { 'resolution-mode': 'import' };
import type * as diagnostics from './node/diagnostics.js' with { 'resolution-mode': 'import' };

declare const WebSocket: typeof websocket.WebSocket;
type WebSocket<B extends websocket.BinaryType = 'nodebuffer', User = unknown> = websocket.WebSocket<B, User>;

declare namespace WebSocket {
  type WebSocketServer<User = unknown, W extends websocket.WebSocket<any, any> = websocket.WebSocket<'nodebuffer', User>> = server.WebSocketServer<User, W>;
  type Server<User = unknown, W extends websocket.WebSocket<any, any> = websocket.WebSocket<'nodebuffer', User>> = server.WebSocketServer<User, W>;
  type ServerOptions<User = unknown, W extends websocket.WebSocket<any, any> = websocket.WebSocket<'nodebuffer', User>> = server.ServerOptions<User, W>;
  type WebSocketServerEventMap<W extends websocket.WebSocket<any, any> = websocket.WebSocket> = server.WebSocketServerEventMap<W>;
  type WebSocketEventMap<B extends websocket.BinaryType = 'nodebuffer'> = websocket.WebSocketEventMap<B>;
  type RawData<B extends websocket.BinaryType = websocket.BinaryType> = websocket.RawData<B>;
  type BinaryType = websocket.BinaryType;
  type BinaryTypes = websocket.BinaryTypes;
  type Data = websocket.Data;
  type SendOptions = websocket.SendOptions;
  type SendData = websocket.SendData;
  type ListenerOptions = websocket.ListenerOptions;
  type SendCallback = websocket.SendCallback;
  type VerifyInfo = server.VerifyInfo;
  type ServerRequest = server.ServerRequest;
  type CloseOptions = server.CloseOptions;
  type HandshakeRequestError = server.HandshakeRequestError;
  type OriginRule = origins.OriginRule;
  type ClientOptions = client.ClientOptions;
  type HandshakeError = errors.HandshakeError;
  type Message = message.Message;
  type CloseEvent = events.CloseEvent;
  type ErrorEvent = events.ErrorEvent;
  type MessageEvent = events.MessageEvent;
  type WebSocketEvent = events.WebSocketEvent;
  type CloseEventInit = events.CloseEventInit;
  type ErrorEventInit = events.ErrorEventInit;
  type MessageEventInit = events.MessageEventInit;
  type EventOptions = events.EventOptions;
  type HeartbeatOptions = policies.HeartbeatOptions;
  type BackpressureOptions = policies.BackpressureOptions;
  type PolicyOptions = policies.PolicyOptions;
  type RateLimitOptions = rateLimit.RateLimitOptions;
  type StatsSnapshot = stats.StatsSnapshot;
  type DeflateOptions = deflate.DeflateOptions;
  type Opcode = constants.Opcode;
  type ProtocolError = protocolErrors.ProtocolError;
  type LocalBroker = broker.LocalBroker;
  type Broker = broker.Broker;
  type BrokerLink = broker.BrokerLink;
  type BrokerSink = broker.BrokerSink;
  type PublishOptions = topics.PublishOptions;
  type ReconnectingWebSocket = reconnecting.ReconnectingWebSocket;
  type QueueFullError = reconnecting.QueueFullError;
  type ReconnectingOptions = reconnecting.ReconnectingOptions;
  type ReconnectOptions = reconnecting.ReconnectOptions;
  type QueueOptions = reconnecting.QueueOptions;
  type DisconnectInfo = reconnecting.DisconnectInfo;
  type ReconnectingEventMap = reconnecting.ReconnectingEventMap;
  type HandshakeMessage = diagnostics.HandshakeMessage;
  type Position = history.Position;
  type HistoryOptions = history.HistoryOptions;
  type HistoryOption = history.HistoryOption;
  type HistoryEntry = history.HistoryEntry;
  type HistoryRead = history.HistoryRead;
  type PublishError = history.PublishError;
  type AuthorizeTopic = topicsProtocol.AuthorizeTopic;
  type TopicTracker = topicClient.TopicTracker;
  type TopicMessage = topicClient.TopicMessage;
  type GapInfo = topicClient.GapInfo;
  type SubscribedInfo = topicClient.SubscribedInfo;
  type TopicEvent = topicClient.TopicEvent;
  type OpenMessage = diagnostics.OpenMessage;
  type CloseMessage = diagnostics.CloseMessage;
  type ErrorMessage = diagnostics.ErrorMessage;
}

export = WebSocket;
