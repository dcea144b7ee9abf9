// Live prices: a simulated feed publishes each symbol's price on its own topic (`price:AAPL`);
// pages subscribe to the symbols they show. `npx tsx examples/ticker/server.ts`, then open
// http://127.0.0.1:3100/. With REDIS_URL set, run several (PORT=3101 ...): one feed is enough
// (FEED=0 on the others), and every page sees the same prices whichever server it is on.
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import { createClient } from 'redis';
import { WebSocketServer } from '../../src/index.js';
import { RedisBroker } from '../../src/redis/index.js';

const PORT = Number(process.env.PORT ?? 3100);
const HOST = process.env.HOST ?? '127.0.0.1';
const FEED = process.env.FEED !== '0';
const SYMBOLS: Record<string, number> = { AAPL: 231.4, MSFT: 418.2, NVDA: 121.9, AMZN: 186.3, TSLA: 248.5, GOOG: 167.1 };

let broker: RedisBroker | undefined;
if (process.env.REDIS_URL) {
  const publisher = createClient({ url: process.env.REDIS_URL });
  const subscriber = publisher.duplicate();
  for (const c of [publisher, subscriber]) c.on('error', (error: Error) => console.error(`redis: ${error.message}`));
  await Promise.all([publisher.connect(), subscriber.connect()]);
  broker = new RedisBroker({ publisher, subscriber, prefix: 'ticker:' });
}

const files: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/reconnecting-websocket.js': ['../browser/reconnecting-websocket.js', 'text/javascript'],
};
const httpServer = http.createServer(async (req, res) => {
  const file = files[new URL(req.url ?? '/', 'http://x').pathname];
  if (!file) return void res.writeHead(404).end('Not found');
  res.writeHead(200, { 'Content-Type': file[1] }).end(await readFile(new URL(file[0], import.meta.url)));
});

const wss = new WebSocketServer({ server: httpServer, path: '/ws', broker, backpressure: { policy: 'drop', maxBufferedAmount: 256 * 1024 } });
wss.on('connection', (ws) => {
  ws.send(JSON.stringify({ type: 'symbols', symbols: Object.keys(SYMBOLS) }));
  ws.on('message', (data) => {
    const { subscribe, unsubscribe } = JSON.parse(data.toString());
    if (typeof subscribe === 'string' && subscribe in SYMBOLS) ws.subscribe(`price:${subscribe}`);
    if (typeof unsubscribe === 'string') ws.unsubscribe(`price:${unsubscribe}`);
  });
});

// The feed: a random walk per symbol, a few ticks a second. Each tick is serialized once and
// written to every subscriber of that symbol, here and on the other servers.
if (FEED) {
  setInterval(() => {
    for (const [symbol, last] of Object.entries(SYMBOLS)) {
      if (Math.random() < 0.4) continue;
      const price = Math.max(1, last * (1 + (Math.random() - 0.5) * 0.004));
      SYMBOLS[symbol] = price;
      wss.publish(`price:${symbol}`, JSON.stringify({ type: 'price', symbol, price: +price.toFixed(2), change: +(price - last).toFixed(2), at: Date.now() }));
    }
  }, 250);
}

httpServer.listen(PORT, HOST, () => console.log(`ticker on http://${HOST}:${PORT}/${broker ? ' (Redis)' : ''}${FEED ? ' with the feed' : ''}`));
process.on('SIGINT', () => wss.close().finally(() => process.exit(0)));
