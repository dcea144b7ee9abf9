// ws echo server (from bench/.peers). With bufferutil installed ws uses it; WS_NO_BUFFER_UTIL=1
// makes it pure JS. Usage: node --expose-gc ws.cjs PORT
// Same protocol as rfc6455.mjs: binary echoed, "!broadcast" fans out 64 B, "!rss" replies the RSS.
'use strict';
const path = require('node:path');
const { WebSocketServer } = require(path.join(__dirname, '../../.peers/node_modules/ws'));

const port = Number(process.argv[2] || 9002);
const BROADCAST = Buffer.alloc(64, 98);
const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false }, () => console.log(`listening ${port}`));

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    if (isBinary) return void ws.send(data, { binary: true });
    const text = data.toString();
    if (text === '!broadcast') {
      for (const client of wss.clients) client.send(BROADCAST, { binary: true });
    } else if (text === '!rss') {
      if (global.gc) {
        global.gc();
        global.gc();
      }
      ws.send(`rss:${process.memoryUsage().rss}`);
    } else {
      ws.send(data, { binary: false });
    }
  });
});

// Exit on a signal so that `node --cpu-prof` gets to write its profile.
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
