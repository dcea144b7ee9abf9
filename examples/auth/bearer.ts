// Authentication with a bearer token in the Authorization header (what Node and other non-browser
// clients send). Run: `npx tsx examples/auth/bearer.ts`, then from another shell:
//   npx tsx -e "import('./examples/auth/bearer.ts').then(m => m.demoClient())"
import type { IncomingMessage } from 'node:http';
import { pathToFileURL } from 'node:url';
import { connect, WebSocketServer } from '../../src/index.js';
import { issueToken, verifyToken, type Claims } from './tokens.js';

/** `authenticate` hook: `Authorization: Bearer <token>`; no header at all refuses with 401. */
export function authenticate(req: IncomingMessage): Claims | false {
  const header = req.headers.authorization;
  if (!header) return false;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return verifyToken(match?.[1]);
}

export function createServer(port = 8080): WebSocketServer {
  const server = new WebSocketServer({ port, host: '127.0.0.1', authenticate });
  server.on('connection', (ws) => {
    const user = ws.user as Claims;
    ws.send(`hello ${user.sub}`);
    ws.on('message', (data) => {
      // After the handshake, policy decisions close with 1008.
      if (data.toString() === 'admin-only' && user.role !== 'admin') return ws.close(1008, 'Forbidden');
      ws.send(data);
    });
  });
  return server;
}

export async function demoClient(url = 'ws://127.0.0.1:8080'): Promise<void> {
  const token = issueToken({ sub: 'alice', role: 'user' });
  const ws = await connect(url, { headers: { Authorization: `Bearer ${token}` } });
  ws.on('message', (data) => console.log(data.toString()));
  setTimeout(() => ws.close(), 500);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  createServer().on('listening', () => console.log('listening on ws://127.0.0.1:8080 (Authorization: Bearer <token>)'));
}
