// Large messages piece by piece: the server never holds a whole message in memory.
// `npx tsx examples/streaming.ts`
import { createHash } from 'node:crypto';
import { WebSocketServer, connect } from '../src/index.js';

const server = new WebSocketServer({ port: 0, host: '127.0.0.1', streaming: true, maxPayload: 1024 ** 3 });
server.on('connection', (ws) => {
  let hash = createHash('sha256');
  let size = 0;
  ws.on('fragment', (data, _isBinary, fin) => {
    hash.update(data);
    size += data.length;
    if (!fin) return;
    ws.send(`${size} bytes, sha256 ${hash.digest('hex')}`);
    hash = createHash('sha256');
    size = 0;
  });
});
await new Promise<void>((resolve) => server.once('listening', () => resolve()));
const { port } = server.address() as { port: number };

const ws = await connect(`ws://127.0.0.1:${port}`);
async function* chunks() {
  for (let i = 0; i < 64; i++) yield Buffer.alloc(1024 * 1024, i);
}
await ws.sendStream(chunks());
for await (const message of ws) {
  console.log(message.text());
  break;
}
ws.close();
await server.close();
