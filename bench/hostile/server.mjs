// The server under attack, one per child process, run with plain node --expose-gc (or with
// `--import tsx` when the library is loaded from src/). Usage: node server.mjs '<config JSON>'
// config: { kind: 'rfc6455' | 'ws', module: what to import, maxPayload, deflate }
// Every message is echoed, as in the echo benchmarks. Over IPC it answers 'sample' with
// process.memoryUsage() after two full GCs, and streams the peak RSS it has seen.
const config = JSON.parse(process.argv[2]);
const { WebSocketServer } = await import(config.module);

const options = { port: 0, host: '127.0.0.1', maxPayload: config.maxPayload, perMessageDeflate: config.deflate };
const wss = new WebSocketServer(options, () => process.send({ type: 'ready', port: wss.address().port }));
wss.on('error', (error) => process.send({ type: 'log', line: `server error: ${error.message}` }));
wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

// Peak RSS between samples; a timer on a busy loop fires late, so this is a floor on the peak.
let peak = process.memoryUsage.rss();
setInterval(() => {
  const rss = process.memoryUsage.rss();
  if (rss > peak) peak = rss;
}, 5).unref();
setInterval(() => process.send({ type: 'peak', rss: peak }), 100).unref();

process.on('message', (message) => {
  if (message.type !== 'sample') return;
  globalThis.gc();
  globalThis.gc();
  const usage = process.memoryUsage();
  if (usage.rss > peak) peak = usage.rss;
  process.send({
    type: 'sample',
    id: message.id,
    heapUsed: usage.heapUsed,
    arrayBuffers: usage.arrayBuffers,
    external: usage.external,
    rss: usage.rss,
    peakRss: peak,
    open: wss.clients.size,
    // What the connections have waiting to be sent, by the library's own count.
    bufferedAmount: [...wss.clients].reduce((sum, ws) => sum + ws.bufferedAmount, 0),
  });
  if (message.resetPeak) peak = usage.rss;
});
process.on('disconnect', () => process.exit(0));
