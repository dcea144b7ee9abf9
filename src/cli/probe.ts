/**
 * Checks an endpoint before a long run, so a typo or a refusing server costs one line, not minutes:
 * the URL must parse as ws:// or wss://, and one opening handshake must succeed.
 */
import { connect } from '../node/connect.js';
import { HandshakeError } from '../node/errors.js';

/** A failure the CLI reports as one line, without a stack. */
export class CliError extends Error {}

/** Bad input on the command line itself: exit status 2, as for an unknown option. */
export class UsageError extends CliError {}

export function parseEndpoint(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${JSON.stringify(text)} is not a URL (expected ws://host:port/path or wss://…)`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new UsageError(`${text}: the scheme must be ws:// or wss://, not ${url.protocol}//`);
  return url;
}

/** Why a handshake failed, in words a person can act on. */
export function describeHandshakeFailure(url: URL, error: Error): string {
  const where = url.href;
  if (error instanceof HandshakeError && error.status !== undefined) {
    const body = error.body?.toString().trim().split('\n')[0]?.slice(0, 120);
    return `${where} refused the WebSocket handshake: HTTP ${error.status}${body ? ` (${body})` : ''}`;
  }
  const code = (error as { code?: string }).code;
  if (code === 'ECONNREFUSED') return `${where} is unreachable: connection refused (is the server running on ${url.host}?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `${where} is unreachable: host ${url.hostname} not found`;
  if (code === 'ETIMEDOUT' || /timed? ?out/i.test(error.message)) return `${where} is unreachable: no answer in time`;
  return `${where}: the handshake failed: ${error.message}${code && !error.message.includes(code) ? ` (${code})` : ''}`;
}

export interface ProbeOptions {
  perMessageDeflate?: boolean;
  rejectUnauthorized?: boolean;
}

/** Opens one connection and closes it; throws a CliError that says why when that fails. */
export async function probe(url: URL, options: ProbeOptions = {}): Promise<{ extensions: string }> {
  try {
    const ws = await connect(url, { handshakeTimeout: 10_000, perMessageDeflate: options.perMessageDeflate ?? false, rejectUnauthorized: options.rejectUnauthorized ?? true, proxy: false });
    const extensions = ws.extensions;
    ws.terminate();
    return { extensions: typeof extensions === 'string' ? extensions : '' };
  } catch (error) {
    throw new CliError(describeHandshakeFailure(url, error as Error));
  }
}
