/**
 * Why a client's opening handshake failed: the HTTP status and headers when the server answered;
 * when the request itself failed, the system or parser error's `code` (`ECONNREFUSED`,
 * `ENOTFOUND`, `HPE_INVALID_CONSTANT` …) and the error itself as `cause`, so that code written
 * for node:http's errors (or ws's, which are node:http's) can still tell them apart.
 */
export class HandshakeError extends Error {
  readonly code: string | undefined;
  /** The body of the server's refusal (up to 64 KiB), when it answered with one. */
  readonly body: Buffer | undefined;
  constructor(
    message: string,
    readonly status?: number,
    readonly headers?: Record<string, string | string[] | undefined>,
    options: { code?: string; cause?: unknown; body?: Buffer } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HandshakeError';
    this.code = options.code;
    this.body = options.body;
  }
}
