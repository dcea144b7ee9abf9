// Authentication with a token carried in Sec-WebSocket-Protocol: the one header a browser's
// `new WebSocket(url, protocols)` lets you set. The client offers the real subprotocol and the
// token as a second "protocol":
//
//   new WebSocket('wss://example.com/', ['chat.v1', `bearer.${token}`])
//
// The server must then select the real subprotocol, never the token (a browser fails a connection
// whose server selects nothing when protocols were offered, and the token must not be echoed
// back). Run: `npx tsx examples/auth/subprotocol.ts`.
import type { IncomingMessage } from 'node:http';
import { pathToFileURL } from 'node:url';
import { WebSocketServer } from '../../src/index.js';
import { verifyToken, type Claims } from './tokens.js';

export const PROTOCOL = 'chat.v1';
export const TOKEN_PREFIX = 'bearer.';

function offered(req: IncomingMessage): string[] {
  return (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
}

/** `authenticate` hook: the offered protocol that starts with `bearer.` carries the token. */
export function authenticate(req: IncomingMessage): Claims | false {
  const entry = offered(req).find((p) => p.startsWith(TOKEN_PREFIX));
  if (!entry) return false;
  return verifyToken(entry.slice(TOKEN_PREFIX.length));
}

/** `handleProtocols` hook: select the application protocol, never the token. */
export function handleProtocols(protocols: Set<string>): string | false {
  return protocols.has(PROTOCOL) ? PROTOCOL : false;
}

export function createServer(port = 8080): WebSocketServer {
  const server = new WebSocketServer({ port, host: '127.0.0.1', authenticate, handleProtocols });
  server.on('connection', (ws) => ws.send(`hello ${(ws.user as Claims).sub} (${ws.protocol})`));
  return server;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  createServer().on('listening', () => console.log(`listening on ws://127.0.0.1:8080 (protocols: ${PROTOCOL}, ${TOKEN_PREFIX}<token>)`));
}
