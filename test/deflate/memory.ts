/**
 * Memory per idle connection with permessage-deflate, run by hand (not part of `npm test`):
 *
 *   npx tsx test/deflate/memory.ts [--n 10000] [--modes off,takeover,no-takeover,small-window]
 *
 * For each mode a fresh server process (node --expose-gc) listens; this process opens N raw TCP
 * connections offering permessage-deflate, each sends one compressed 2 KiB text message and reads
 * the compressed echo, then all stay open and idle. The server is GC'd and its RSS, heap and
 * external memory are read before and after; the deltas divided by N are printed.
 *
 *   off           server perMessageDeflate: false (the client's offer is declined)
 *   takeover      perMessageDeflate: true (context takeover: a deflater and an inflater kept per connection)
 *   no-takeover   { serverNoContextTakeover: true, clientNoContextTakeover: true } (contexts dropped after each message)
 *   small-window  { serverMaxWindowBits: 10, clientMaxWindowBits: 10, memLevel: 4 } with takeover
 */
import { fork } from 'node:child_process';
import type * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { compressedFrame, frame, OP, RawClient } from '../helpers/raw.js';
import { delay } from '../helpers/wait.js';

const MODES: Record<string, boolean | object> = {
  off: false,
  takeover: true,
  'no-takeover': { serverNoContextTakeover: true, clientNoContextTakeover: true },
  'small-window': { serverMaxWindowBits: 10, clientMaxWindowBits: 10, memLevel: 4 },
};

interface Usage {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

async function server(mode: string): Promise<void> {
  const { WebSocketServer } = await import('../../src/index.js');
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: MODES[mode] as boolean, maxConnectionsPerIp: 1e9, maxConnections: 1e9 });
  let extensions = '';
  wss.on('connection', (ws) => {
    extensions = ws.extensions;
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const address = wss.address() as net.AddressInfo;
  process.on('message', async (message: string) => {
    if (message !== 'measure') return;
    for (let i = 0; i < 5; i++) {
      (globalThis as { gc?: () => void }).gc!();
      await delay(50);
    }
    const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
    process.send!({ usage: { rss, heapUsed, external, arrayBuffers }, clients: wss.clients.size, extensions });
  });
  process.send!({ port: address.port });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const option = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const n = Number(option('n') ?? 10_000);
  const modes = (option('modes') ?? 'off,takeover,no-takeover,small-window').split(',');
  console.log(`node ${process.version}, ${n} idle connections, each after one compressed 2 KiB message each way\n`);
  console.log('| mode | extension agreed | RSS / conn | heap / conn | external / conn | RSS total Δ |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const mode of modes) {
    const child = fork(fileURLToPath(import.meta.url), ['server', mode], { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: 'inherit' });
    const ask = <T>(): Promise<T> => new Promise((resolve) => child.once('message', (m) => resolve(m as T)));
    const { port } = await ask<{ port: number }>();
    child.send('measure');
    const before = await ask<{ usage: Usage }>();
    const sockets: net.Socket[] = [];
    for (let i = 0; i < n; i += 250) {
      sockets.push(...(await Promise.all(Array.from({ length: Math.min(250, n - i) }, () => exchange(port)))));
    }
    await delay(500);
    child.send('measure');
    const after = await ask<{ usage: Usage; clients: number; extensions: string }>();
    if (after.clients !== n) throw new Error(`${after.clients} connections open, expected ${n}`);
    const per = (key: keyof Usage) => `${((after.usage[key] - before.usage[key]) / n / 1024).toFixed(1)} KiB`;
    console.log(`| ${mode} | ${after.extensions || '(none)'} | ${per('rss')} | ${per('heapUsed')} | ${per('external')} | ${((after.usage.rss - before.usage.rss) / 1024 / 1024).toFixed(0)} MiB |`);
    for (const socket of sockets) socket.destroy();
    child.kill();
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

const TEXT = (() => {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa', 'lambda', 'mu'];
  let text = '';
  for (let i = 0; text.length < 2048; i++) text += words[(i * 7 + (i >> 2)) % words.length] + ' ';
  return Buffer.from(text);
})();

/** Handshake offering permessage-deflate, one message (compressed when agreed), wait for any reply bytes; the socket stays open. */
async function exchange(port: number): Promise<net.Socket> {
  const client = await RawClient.open(port, { extensions: 'permessage-deflate; client_max_window_bits' });
  client.send(/^permessage-deflate/.test(client.extensions) ? compressedFrame(OP.text, TEXT) : frame(OP.text, TEXT));
  await client.waitFor(() => client.bytesReceived > 0, 30_000, 'the echo');
  client.socket.pause();
  return client.socket;
}

// Last, so that every constant above is initialized.
if (process.argv[2] === 'server') await server(process.argv[3]);
else await main();
