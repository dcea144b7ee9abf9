/** The I/O-free protocol engine, for bringing your own transport. */
export { CloseCode, GUID, Opcode, isValidCloseCode, DEFAULT_MAX_PAYLOAD, MAX_CONTROL_PAYLOAD, MAX_CLOSE_REASON } from './constants.js';
export { ProtocolError } from './errors.js';
export { Connection, State, checkClose, type ConnectionEvents, type ConnectionOptions, type Side, type Batch, type Frame, type WriteCallback } from './connection.js';
export { FrameParser, type ParserOptions, type ParserSink } from './parser.js';
export { encodeFrame, encodeClosePayload, writeHeader, headerLength } from './serializer.js';
export { applyMask, maskInPlace } from './mask.js';
export { Utf8Validator, isUtf8 } from './utf8.js';
export {
  acceptKey,
  generateKey,
  parseList,
  checkRequest,
  checkResponse,
  buildAcceptResponse,
  buildErrorResponse,
  targetPath,
  isToken,
  isFieldValue,
  unsafeRefusal,
  type Headers,
  type RequestCheck,
  type ResponseCheck,
  type UpgradeRequest,
} from './handshake.js';
export {
  ServerHandshake,
  refusalResponse,
  deflateOptions,
  type ServerHandshakeOptions,
  type CheckedRequest,
  type HandshakeRefusal,
  type ServerAcceptance,
} from './server-handshake.js';
export { ClientHandshake, type ClientHandshakeOptions, type ClientAcceptance, type ClientFailure } from './client-handshake.js';
export type { DeflateOptions, DeflateParams } from './extensions/permessage-deflate.js';
