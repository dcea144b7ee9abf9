/**
 * The nginx and HAProxy configurations of the README's FAQ, run as written in a real nginx and a
 * real HAProxy (Debian packages; .ci/run installs them). Only what must change to run here is
 * changed: `listen 80` / `bind :80` become a free port of 127.0.0.1, and the backend address
 * 127.0.0.1:8080 becomes an rfc6455 server on another free port. Through each proxy a client
 * upgrades, exchanges text and binary messages, and close codes travel both ways; the server sees
 * the client's address in X-Forwarded-For, as the FAQ says.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerRequest } from '../../src/index.js';
import { describe, expect, it } from 'vitest';
import { connect, type WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { freePort, startServer } from '../helpers/server.js';
import { delay, once } from '../helpers/wait.js';
import { readmeBlocks } from './markdown.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const blocks = readmeBlocks(path.join(root, 'README.md'));
const defer = useCleanup();

/** The binary's path, or null; Debian puts both in /usr/sbin, which a non-root PATH may lack. */
function find(binary: string): string | null {
  for (const candidate of [binary, `/usr/sbin/${binary}`]) {
    if (spawnSync(candidate, ['-v'], { stdio: 'ignore' }).error === undefined) return candidate;
  }
  return null;
}

function readmeConfig(lang: string): string {
  const found = blocks.filter((block) => block.lang === lang);
  expect(found, `README.md has one \`\`\`${lang} block`).toHaveLength(1);
  return found[0].code;
}

/** Swaps the README's ports for ours, failing if the README no longer has the line to swap. */
function rewrite(config: string, from: RegExp, to: string): string {
  expect(config, `README config has ${from}`).toMatch(from);
  return config.replace(from, to);
}

/** Waits until something accepts TCP connections on the port, or the process has exited. */
async function listening(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}):\n${output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`not listening on ${port} after 10 s:\n${output()}`);
    await delay(50);
  }
}

function run(command: string, args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  defer(() => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    return new Promise((resolve) => child.once('exit', resolve));
  });
  return { child, output: () => output };
}

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'rfc6455-proxy-'));
  chmodSync(dir, 0o777); // nginx's workers run as nobody when the master is root
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Backend {
  port: number;
  /** The upgrade requests the server accepted. */
  requests: ServerRequest[];
  /** Close codes the server's side of each connection saw. */
  closes: number[];
}

/** An rfc6455 server that echoes, closes with 4001 when told "close", and records what it saw. */
async function backend(): Promise<Backend> {
  const { server, port } = await startServer(defer);
  const seen: Backend = { port, requests: [], closes: [] };
  server.on('connection', (ws, req) => {
    seen.requests.push(req);
    ws.on('close', (code) => seen.closes.push(code));
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data.toString() === 'close') return ws.close(4001, 'server says bye');
      ws.send(data, { binary: isBinary });
    });
  });
  return seen;
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return once<[Buffer, boolean]>(ws, 'message').then(([data, isBinary]) => ({ data, isBinary }));
}

/** What the FAQ promises of a proxy in front of the server. */
async function exchangeThrough(proxyPort: number, server: Backend): Promise<void> {
  const url = `ws://127.0.0.1:${proxyPort}/chat?room=1`;
  const ws = await connect(url);
  expect(server.requests).toHaveLength(1);
  expect(server.requests[0].url).toBe('/chat?room=1');
  expect(server.requests[0].headers['x-forwarded-for']).toBe('127.0.0.1');

  ws.send('hello through the proxy');
  expect(await nextMessage(ws)).toEqual({ data: Buffer.from('hello through the proxy'), isBinary: false });
  const binary = Buffer.alloc(200_000, 7); // bigger than any proxy buffer: it streams through
  ws.send(binary);
  const echoed = await nextMessage(ws);
  expect(echoed.isBinary).toBe(true);
  expect(echoed.data.equals(binary)).toBe(true);

  // The client's close code reaches the server…
  ws.close(4002, 'client says bye');
  const [code] = await once<[number]>(ws, 'close');
  expect(code).toBe(4002);
  await delay(50);
  expect(server.closes).toEqual([4002]);

  // …and the server's reaches a client.
  const second = await connect(url);
  second.send('close');
  const [serverCode, reason] = await once<[number, Buffer]>(second, 'close');
  expect(serverCode).toBe(4001);
  expect(String(reason)).toBe('server says bye');
}

const nginx = find('nginx');
const haproxy = find('haproxy');
const missing = (name: string) =>
  `${name} is not installed: skipped. Install it with \`apt-get install -y ${name}\` (.ci/run installs it before npm test).`;

describe.skipIf(!nginx)('behind nginx, with the README configuration', () => {
  it('upgrades, carries messages both ways and close codes through', async () => {
    const server = await backend();
    const port = await freePort();
    const dir = tempDir();
    let site = readmeConfig('nginx');
    site = rewrite(site, /listen 80;/, `listen 127.0.0.1:${port};`);
    site = rewrite(site, /127\.0\.0\.1:8080/, `127.0.0.1:${server.port}`);
    // The README block goes in the `http` block; the rest is what /etc/nginx/nginx.conf has.
    const conf = [
      'daemon off;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      'error_log stderr warn;',
      'events { worker_connections 256; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${dir}/${kind};`),
      site,
      '}',
    ].join('\n');
    writeFileSync(path.join(dir, 'nginx.conf'), conf);
    const proc = run(nginx!, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', 'stderr']);
    await listening(port, proc.child, proc.output);
    await exchangeThrough(port, server);
  }, 30_000);
});

describe.skipIf(!haproxy)('behind HAProxy, with the README configuration', () => {
  it('upgrades, carries messages both ways and close codes through', async () => {
    const server = await backend();
    const port = await freePort();
    const dir = tempDir();
    let conf = readmeConfig('haproxy');
    conf = rewrite(conf, /bind :80\b/, `bind 127.0.0.1:${port}`);
    conf = rewrite(conf, /127\.0\.0\.1:8080/, `127.0.0.1:${server.port}`);
    writeFileSync(path.join(dir, 'haproxy.cfg'), conf);
    const proc = run(haproxy!, ['-db', '-f', path.join(dir, 'haproxy.cfg')]);
    await listening(port, proc.child, proc.output);
    await exchangeThrough(port, server);
  }, 30_000);
});

if (!nginx) console.warn(missing('nginx'));
if (!haproxy) console.warn(missing('haproxy'));
