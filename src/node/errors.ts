/** Why a client's opening handshake failed: the HTTP status and headers when the server answered. */
export class HandshakeError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly headers?: Record<string, string | string[] | undefined>,
    /** The body of the server's refusal (up to 64 KiB), when it answered with one. */
    readonly body?: Buffer,
  ) {
    super(message);
    this.name = 'HandshakeError';
  }
}
