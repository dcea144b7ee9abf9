export { WebSocket, type BinaryType, type Data, type SendOptions, type SendCallback } from './node/websocket.js';
export { WebSocketServer, type ServerOptions, type VerifyInfo } from './node/server.js';
export { connect } from './node/connect.js';
export type { ClientOptions } from './node/client.js';
export { HandshakeError } from './node/errors.js';
export { Message } from './node/message.js';
export { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent } from './node/events.js';
export { CloseCode, Opcode } from './protocol/constants.js';
export { ProtocolError } from './protocol/errors.js';
