/**
 * The `allowedOrigins` check: browsers send the page's Origin with every WebSocket handshake and
 * do not apply the same-origin policy to it, so a server that trusts cookies must refuse pages of
 * other sites itself (cross-site WebSocket hijacking).
 */
import type { ServerRequest } from './request-head.js';

export type OriginRule = string | RegExp;

/**
 * Whether the request's Origin is allowed. A request without an Origin is not from a browser
 * page, and any other client can send whatever Origin it likes: refusing it would protect
 * nothing, so it passes. The serialized opaque origin "null" (sandboxed frames, file: pages)
 * passes only if "null" is in the list.
 */
export function originAllowed(req: ServerRequest, rules: readonly OriginRule[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  // Origins are ASCII and their scheme and host case-insensitive (RFC 6454 §6.2).
  const lower = origin.toLowerCase();
  for (const rule of rules) {
    if (typeof rule === 'string') {
      if (rule.toLowerCase() === lower) return true;
    } else {
      // A /g or /y RegExp keeps lastIndex between calls: start each test from the beginning.
      rule.lastIndex = 0;
      if (rule.test(origin)) return true;
    }
  }
  return false;
}
