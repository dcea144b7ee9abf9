// An echo server: run with `npx tsx examples/echo-server.ts`, then `npx rfc6455 connect ws://127.0.0.1:8080`.
import { WebSocketServer } from '../src/index.js';

const server = new WebSocketServer({ port: 8080, host: '127.0.0.1', maxPayload: 16 * 1024 * 1024 });

server.on('connection', (ws, req) => {
  console.log(`connection from ${req.socket.remoteAddress}`);
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('close', (code, reason, wasClean) => console.log(`closed ${code} ${reason} clean=${wasClean}`));
});
server.on('listening', () => console.log('listening on ws://127.0.0.1:8080'));

process.on('SIGINT', () => server.close({ code: 1001, reason: 'bye' }).then(() => process.exit(0)));
