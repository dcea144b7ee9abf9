// Signed access tokens for the authentication examples: `base64url(claims).base64url(hmac)`, a
// minimal JWT-like format made of RFC 7230 token characters only, so it also fits in a
// Sec-WebSocket-Protocol value. Use a real JWT library and a secret from your config in production.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface Claims {
  /** The user id. */
  sub: string;
  role: 'user' | 'admin' | 'banned';
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export const SECRET = process.env.TOKEN_SECRET ?? 'change-me';

function sign(data: string, secret: string): string {
  return createHmac('sha256', secret).update(data).digest('base64url');
}

export function issueToken(claims: Omit<Claims, 'exp'> & { exp?: number }, secret = SECRET): string {
  const body = Buffer.from(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })).toString('base64url');
  return `${body}.${sign(body, secret)}`;
}

/** An error the server turns into that HTTP status (see `authenticate` in the server options). */
export class AuthError extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The claims of a valid token. A missing, forged or expired token is a 401; a banned user a 403.
 */
export function verifyToken(token: string | undefined, secret = SECRET): Claims {
  if (!token) throw new AuthError(401, 'Missing token');
  const [body, signature, extra] = token.split('.');
  if (!body || !signature || extra !== undefined) throw new AuthError(401, 'Malformed token');
  const expected = Buffer.from(sign(body, secret));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new AuthError(401, 'Bad signature');
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Claims;
  if (claims.exp * 1000 < Date.now()) throw new AuthError(401, 'Token expired');
  if (claims.role === 'banned') throw new AuthError(403, 'User is banned');
  return claims;
}
