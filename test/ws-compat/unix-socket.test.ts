// ws+unix: URLs (ws's way to reach a server on a Unix domain socket) for every client entry point.
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ReconnectingWebSocket, WebSocket, WebSocketServer } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { once } from '../helpers/wait.js';

const defer = useCleanup();

async function unixServer(): Promise<{ socketPath: string; paths: string[] }> {
  const socketPath = path.join(os.tmpdir(), `rfc6455-${randomBytes(6).toString('hex')}.sock`);
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  const paths: string[] = [];
  wss.on('connection', (ws, req) => {
    paths.push(req.url ?? '');
    ws.send('over the unix socket');
  });
  defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
  defer(() => wss.close({ timeout: 100 }));
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return { socketPath, paths };
}

describe('ws+unix: URLs', () => {
  it('new WebSocket connects to the socket and sends the request path', async () => {
    const { socketPath, paths } = await unixServer();
    const ws = new WebSocket(`ws+unix:${socketPath}:/chat?room=1`);
    defer(() => ws.terminate());
    const [data] = await once<[Buffer]>(ws, 'message');
    expect(data.toString()).toBe('over the unix socket');
    expect(paths).toEqual(['/chat?room=1']);
  });

  it('ReconnectingWebSocket takes them too', async () => {
    const { socketPath, paths } = await unixServer();
    const rws = new ReconnectingWebSocket(`ws+unix:${socketPath}:/feed`);
    defer(() => rws.close());
    const [data] = await once<[Buffer]>(rws, 'message');
    expect(data.toString()).toBe('over the unix socket');
    expect(paths).toEqual(['/feed']);
  });
});
