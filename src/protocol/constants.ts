/** The GUID that RFC 6455 §1.3 appends to Sec-WebSocket-Key before hashing. */
export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Close codes of RFC 6455 §7.4.1 and the IANA registry. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Never on the wire: reported when a close frame had no code. */
  NoStatus: 1005,
  /** Never on the wire: reported when the connection dropped without a close frame. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
} as const;

/** Codes a peer may put in a close frame (§7.4.1, §7.4.2): 1004–1006 and 1015 are reserved. */
export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

export const MAX_CONTROL_PAYLOAD = 125;
/** A close payload is a 2-byte code followed by the reason, within the control-frame limit. */
export const MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2;

export const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;

/** How long a client waits for the server's answer to its opening handshake (both HTTP/1.1 and HTTP/2). */
export const DEFAULT_CLIENT_HANDSHAKE_TIMEOUT = 30_000;
