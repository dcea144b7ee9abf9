/** A protocol violation by the peer: the connection must be failed with `code` (RFC 6455 §7.1.7). */
export class ProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}
