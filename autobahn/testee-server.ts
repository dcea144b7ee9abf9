// The echo server the suite's fuzzing client tests: every message back as it came.
import { WebSocketServer } from '../src/index.js';

const port = Number(process.argv[2] ?? 0);
const server = new WebSocketServer({
  port,
  host: '127.0.0.1',
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: true,
});
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.on('listening', () => console.log(`testee server listening on ws://127.0.0.1:${(server.address() as { port: number }).port}`));
