// WebSocket server statistics in Prometheus text format: GET /metrics on the same HTTP server that
// takes the WebSocket upgrades. Run: `npx tsx examples/metrics/server.ts`, then
//   curl http://127.0.0.1:8080/metrics
// and point a Prometheus scrape job at it.
import * as http from 'node:http';
import { pathToFileURL } from 'node:url';
import { toPrometheus, WebSocketServer } from '../../src/index.js';

export function createMetricsServer(port = 8080, host = '127.0.0.1'): { http: http.Server; wss: WebSocketServer } {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      return res.end(toPrometheus(wss.stats(), 'websocket'));
    }
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server, path: '/ws', maxConnections: 10_000 });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  server.listen(port, host);
  return { http: server, wss };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { http: server, wss } = createMetricsServer();
  server.on('listening', () => console.log('ws://127.0.0.1:8080/ws, metrics on http://127.0.0.1:8080/metrics'));
  const shutdown = () => wss.close({ timeout: 5000 }).then(() => server.close(() => process.exit(0)));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
