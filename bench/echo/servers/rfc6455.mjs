// rfc6455 echo server, run from the built package (dist/) with plain node: what users run.
// Usage: node --expose-gc rfc6455.mjs PORT   (RFC6455_DIST=path/to/dist: another build, for a baseline)
// Binary messages are echoed; text "!broadcast" sends one 64-byte message to every connection
// (wss.broadcast: one frame serialized once, its bytes written to every socket); text "!rss"
// replies "rss:N" after a full GC.
import { pathToFileURL } from 'node:url';

const dist = process.env.RFC6455_DIST ? pathToFileURL(`${process.env.RFC6455_DIST}/index.js`).href : '../../../dist/index.js';
const { WebSocketServer } = await import(dist);

const port = Number(process.argv[2] ?? 9001);
const BROADCAST = Buffer.alloc(64, 98);
const wss = new WebSocketServer({ port, host: '127.0.0.1' }, () => console.log(`listening ${port}`));

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (isBinary) return void ws.send(data, { binary: true });
    const text = data.toString();
    if (text === '!broadcast') {
      wss.broadcast(BROADCAST, { binary: true });
    } else if (text === '!rss') {
      globalThis.gc?.();
      globalThis.gc?.();
      ws.send(`rss:${process.memoryUsage().rss}`);
    } else {
      ws.send(data, { binary: false });
    }
  });
});

// Exit on a signal so that `node --cpu-prof` gets to write its profile.
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
