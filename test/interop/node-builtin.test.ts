// Node's built-in WebSocket client (undici) against our server, run in a child process: Node 20
// exposes it only with --experimental-websocket; from Node 22 on it is a global without the flag.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { startServer } from '../helpers/server.js';
import { closed, type Closed } from '../helpers/wait.js';

const defer = useCleanup();
const FIXTURE = fileURLToPath(new URL('./fixtures/node-client.mjs', import.meta.url));
// Only where the global is missing (Node 20/21); never needed from 22 on.
const FLAGS = typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function' ? [] : ['--experimental-websocket'];

interface Entry {
  event: string;
  [key: string]: unknown;
}

function runNodeClient(url: string, mode: string): Promise<Entry[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [...FLAGS, '--no-warnings', FIXTURE, url, mode], { timeout: 15_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`child failed: ${error.message}\n${stderr}`));
      resolve(
        stdout
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as Entry),
      );
    });
    defer(() => child.kill());
  });
}

/** An echo server that greets each client and records how its connections closed. */
async function server(onConnection?: (ws: WebSocket) => void): Promise<{ url: string; closes: Promise<Closed>; protocols: string[] }> {
  const protocols: string[] = [];
  const { server: wss, url } = await startServer(defer, { handleProtocols: (set) => (set.has('superchat') ? 'superchat' : false) });
  const closes = new Promise<Closed>((resolve) =>
    wss.once('connection', (ws) => {
      protocols.push(ws.protocol);
      resolve(closed(ws, 15_000));
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.send('welcome');
      onConnection?.(ws);
    }),
  );
  return { url, closes, protocols };
}

describe("Node's built-in WebSocket client → our server", () => {
  it('is available in a child node (with the flag on Node 20)', async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [...FLAGS, '--no-warnings', '-e', 'console.log(typeof WebSocket)'], (error, stdout) => (error ? reject(error) : resolve(stdout))),
    );
    expect(out.trim()).toBe('function');
  });

  it('text and binary round-trip; the client closes with 4321 and a reason, cleanly', async () => {
    const { url, closes, protocols } = await server();
    const entries = await runNodeClient(url, 'client-closes');
    expect(entries).toEqual([
      { event: 'open', protocol: 'superchat', extensions: '' },
      { event: 'message', binary: false, data: 'welcome' },
      { event: 'message', binary: false, data: 'hello from node' },
      { event: 'message', binary: true, data: [1, 2, 3, 255] },
      { event: 'close', code: 4321, reason: '', wasClean: true },
    ]);
    expect(protocols).toEqual(['superchat']);
    expect(await closes).toEqual({ code: 4321, reason: 'node done', wasClean: true });
  });

  it('our server closes with a code and reason: the built-in client sees them, cleanly', async () => {
    const { url, closes } = await server((ws) => {
      let n = 0;
      ws.on('message', () => {
        if (++n === 2) ws.close(4100, 'server done');
      });
    });
    const entries = await runNodeClient(url, 'server-closes');
    expect(entries.at(-1)).toEqual({ event: 'close', code: 4100, reason: 'server done', wasClean: true });
    expect(entries.filter((e) => e.event === 'message').length).toBe(3);
    expect(await closes).toMatchObject({ code: 4100, wasClean: true });
  });

  it('1 MiB from the built-in client is echoed intact', async () => {
    const { url, closes } = await server();
    const entries = await runNodeClient(url, 'big');
    expect(entries.filter((e) => e.event === 'message')).toEqual([
      { event: 'message', binary: false, data: 'welcome' },
      { event: 'message', binary: true, length: 1024 * 1024, allZ: true },
    ]);
    expect(entries.at(-1)).toMatchObject({ event: 'close', code: 1000, wasClean: true });
    expect(await closes).toEqual({ code: 1000, reason: 'big done', wasClean: true });
  });

  it('the client process exiting while open: our server sees 1006', async () => {
    const { url, closes } = await server();
    const entries = await runNodeClient(url, 'terminate');
    expect(entries[0]).toMatchObject({ event: 'open' });
    expect(await closes).toEqual({ code: 1006, reason: '', wasClean: false });
  });
});
