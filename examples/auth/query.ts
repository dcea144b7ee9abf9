// Authentication with a token in the query string: `wss://host/ws?token=...`. Browsers can do this,
// but the URL ends up in proxy and server logs: use short-lived tokens (or a one-time ticket fetched
// over HTTPS just before connecting). Run: `npx tsx examples/auth/query.ts`.
import type { IncomingMessage } from 'node:http';
import { pathToFileURL } from 'node:url';
import { WebSocketServer } from '../../src/index.js';
import { verifyToken, type Claims } from './tokens.js';

/** `authenticate` hook: `?token=<token>`; no token refuses with 401. */
export function authenticate(req: IncomingMessage): Claims | false {
  const token = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
  if (!token) return false;
  return verifyToken(token);
}

export function createServer(port = 8080): WebSocketServer {
  const server = new WebSocketServer({ port, host: '127.0.0.1', path: '/ws', authenticate });
  server.on('connection', (ws) => ws.send(`hello ${(ws.user as Claims).sub}`));
  return server;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  createServer().on('listening', () => console.log('listening on ws://127.0.0.1:8080/ws?token=<token>'));
}
