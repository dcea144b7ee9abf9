// Bun echo server (uWebSockets inside). Usage: bun bun.ts PORT
// Same protocol as rfc6455.mjs. Broadcast uses Bun's own pub/sub (server.publish serializes once),
// the way a Bun user would fan out.
declare const Bun: any;

const port = Number(process.argv[2] ?? 9003);
const BROADCAST = new Uint8Array(64).fill(98);

const server = Bun.serve({
  port,
  hostname: '127.0.0.1',
  fetch(req: Request, srv: any) {
    if (srv.upgrade(req)) return undefined;
    return new Response('Upgrade Required', { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    maxPayloadLength: 64 * 1024 * 1024,
    open(ws: any) {
      ws.subscribe('all');
    },
    message(ws: any, message: string | Uint8Array) {
      if (typeof message !== 'string') return void ws.send(message);
      if (message === '!broadcast') server.publish('all', BROADCAST);
      else if (message === '!rss') {
        Bun.gc(true);
        ws.send(`rss:${process.memoryUsage().rss}`);
      } else ws.send(message);
    },
  },
});
console.log(`listening ${port}`);
