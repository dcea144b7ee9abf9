/**
 * Foreign RFC 8441 implementations, in a Python venv this test creates under the cache directory:
 * hypercorn (an ASGI server that serves WebSockets over HTTP/2) as the server for our client, and
 * the `h2` library as a raw HTTP/2 client for our server. Skipped, saying why, only where PyPI
 * cannot be reached.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connect, WebSocketServer, type WebSocket } from '../../src/index.js';
import { http2SessionCount } from '../../src/node/http2-client.js';
import { useCertificate } from '../helpers/certificate.js';
import { useCleanup } from '../helpers/cleanup.js';
import { freePort } from '../helpers/server.js';
import { closed, nextMessage, waitFor } from '../helpers/wait.js';
import { startTlsEchoServer, transportOf } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const CACHE = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'rfc6455-tests');
const VENV = join(CACHE, 'hypercorn-venv');
const PACKAGES = ['hypercorn==0.18.0', 'h2==4.4.1'];

/** The venv's python, made (once per machine) if missing; null with the reason when PyPI is unreachable. */
function ensureVenv(): { python: string } | { skip: string } {
  const python = join(VENV, 'bin', 'python');
  const marker = join(VENV, `.installed-${PACKAGES.join('-')}`);
  if (existsSync(marker)) return { python };
  mkdirSync(CACHE, { recursive: true });
  const made = spawnSync('python3', ['-m', 'venv', VENV], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`python3 -m venv failed: ${made.stderr}`);
  const pip = spawnSync(join(VENV, 'bin', 'pip'), ['install', '--disable-pip-version-check', '-q', ...PACKAGES], { encoding: 'utf8', timeout: 180_000 });
  if (pip.status === 0) {
    writeFileSync(marker, '');
    return { python };
  }
  const output = `${pip.stdout}\n${pip.stderr}`;
  if (/NewConnectionError|Network is unreachable|Temporary failure in name resolution|Max retries exceeded|No matching distribution|Could not find a version/i.test(output)) {
    return { skip: `PyPI cannot be reached (pip install ${PACKAGES.join(' ')} failed): ${output.trim().split('\n').pop()}` };
  }
  throw new Error(`pip install ${PACKAGES.join(' ')} failed:\n${output}`);
}

const venv = ensureVenv();
if ('skip' in venv) console.warn(`foreign RFC 8441 peers skipped: ${venv.skip}`);
const python = 'python' in venv ? venv.python : '';

const defer = useCleanup();
const certificate = useCertificate();

function keyFile(): string {
  const file = join(tmpdir(), `rfc6455-h2-key-${process.pid}.pem`);
  writeFileSync(file, certificate.key);
  return file;
}

/** Waits until the child's output matches, returns all of it. */
function output(child: ChildProcess, pattern: RegExp, ms = 15_000): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms:\n${text}`)), ms);
    const onData = (chunk: Buffer) => {
      text += chunk;
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!pattern.test(text)) reject(new Error(`exited ${code} before ${pattern}:\n${text}`));
    });
  });
}

/** Runs the h2 peer to its end; its JSON lines. */
async function h2Peer(port: number, mode: string, stdin?: (child: ChildProcess, lines: () => unknown[]) => Promise<void>): Promise<any[]> {
  const child = spawn(python, [join(FIXTURES, 'h2_peer.py'), String(port), certificate.certFile, mode], { stdio: ['pipe', 'pipe', 'pipe'] });
  defer(() => child.kill());
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (err += chunk));
  const lines = () => out.split('\n').filter(Boolean).map((line) => JSON.parse(line));
  if (stdin) await stdin(child, lines);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`h2_peer.py ${mode} exited ${code}:\n${out}\n${err}`);
  return lines();
}

describe.skipIf(!python)('foreign RFC 8441 peers (Python venv)', () => {
  it('our client ⇄ hypercorn: WebSockets over HTTP/2, one session for two, text, binary, subprotocol, close code', async () => {
    const port = await freePort();
    const server = spawn(join(VENV, 'bin', 'hypercorn'), ['--certfile', certificate.certFile, '--keyfile', keyFile(), '--bind', `127.0.0.1:${port}`, 'hypercorn_echo:app'], {
      cwd: FIXTURES,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    defer(() => server.kill());
    await output(server, /Running on/);
    const url = `wss://localhost:${port}/echo`;
    // No fallback: this must be HTTP/2 or fail.
    const a = await connect(url, { ca: certificate.cert, http2: { fallback: false }, protocols: ['p1', 'p2'] });
    const b = await connect(url, { ca: certificate.cert, http2: { fallback: false } });
    defer(() => a.terminate());
    defer(() => b.terminate());
    expect(http2SessionCount()).toBe(1);
    expect([a.protocol, b.protocol]).toEqual(['p1', '']);
    expect(a.url).toBe(url);
    const ask = async (ws: WebSocket, data: string | Buffer) => {
      const reply = nextMessage(ws);
      ws.send(data);
      return (await reply).data;
    };
    // hypercorn says which HTTP version carried the WebSocket (ASGI scope http_version).
    expect((await ask(a, 'http_version?')).toString()).toBe('2');
    expect((await ask(b, 'http_version?')).toString()).toBe('2');
    expect((await ask(a, 'héllo')).toString()).toBe('héllo');
    const big = Buffer.alloc(200_000, 0xab);
    expect(Buffer.compare(await ask(b, big), big)).toBe(0);
    // Our reset of one stream (RST_STREAM CANCEL) leaves hypercorn's other stream on the session alone.
    const bGone = closed(b);
    b.terminate();
    expect((await bGone).code).toBe(1006);
    expect((await ask(a, 'still')).toString()).toBe('still');
    // hypercorn closes: its close frame, ours back, END_STREAM both ways. (hypercorn 0.18 then
    // fails the whole connection on our END_STREAM, an empty DATA frame for a stream it has
    // forgotten: a KeyError in its h2 protocol. So this comes last.)
    const gone = closed(a);
    a.send('close 7');
    const c = await gone;
    expect([c.code, c.wasClean]).toEqual([4007, true]);
    await waitFor(() => http2SessionCount() === 0);
  }, 30_000);

  it('the h2 library ⇄ our server: the setting, a 200 with the subprotocol, a masked frame echoed, the close handshake, END_STREAM', async () => {
    const { server, port } = await startTlsEchoServer(defer, certificate);
    const serverSide = new Promise<{ ws: WebSocket; end: ReturnType<typeof closed> }>((resolve) => server.once('connection', (ws) => resolve({ ws, end: closed(ws) })));
    const lines = await h2Peer(port, 'echo');
    expect(lines[0]).toEqual({ setting: 1 });
    expect([lines[1].status, lines[1].headers['sec-websocket-protocol']]).toEqual([200, 'x']);
    expect(lines[2]).toEqual({ echo: 'hello from h2', header: 0x81 });
    expect(lines[3]).toEqual({ close: 1000, opcode: 8 });
    expect(lines[4]).toEqual({ ended: 'StreamEnded' });
    const { ws, end } = await serverSide;
    expect((transportOf(ws) as object).constructor.name).toBe('ServerHttp2Stream');
    const c = await end;
    expect([c.code, c.reason, c.wasClean]).toEqual([1000, 'bye', true]);
  }, 30_000);

  it('a CONNECT with :path but no :protocol is malformed: RST_STREAM PROTOCOL_ERROR, and the session goes on', async () => {
    const { port } = await startTlsEchoServer(defer, certificate);
    const lines = await h2Peer(port, 'missing-protocol');
    expect(lines[0]).toEqual({ reset: http2.constants.NGHTTP2_PROTOCOL_ERROR });
    expect(lines[1].after.status).toBe(200);
  }, 30_000);

  it('a CONNECT on a session opened before the WebSocketServer announced the setting: RST_STREAM PROTOCOL_ERROR; the session goes on', async () => {
    const server = http2.createSecureServer({ key: certificate.key, cert: certificate.cert });
    server.on('request', (_req, res) => res.end('page'));
    // node:http2 sometimes never sees the h2 peer's EOF after its GOAWAY on this session, and then
    // not even session.destroy() closes the socket (reproduced without rfc6455): server.close()
    // would wait for it forever, so the test's sockets are destroyed here.
    const sockets = new Set<TLSSocket>();
    server.on('secureConnection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise((resolve) => server.close(resolve)));
    defer(() => sockets.forEach((socket) => socket.destroy()));
    const port = (server.address() as AddressInfo).port;
    let wss: WebSocketServer | null = null;
    const lines = await h2Peer(port, 'stale-session', async (child, read) => {
      await waitFor(() => read().length === 1, 10_000, 'the settings line');
      // Attached now: new sessions get the setting; this one never saw it.
      wss = new WebSocketServer({ server });
      child.stdin!.write('go\n');
    });
    defer(() => wss?.close({ timeout: 100 }));
    expect(lines[0]).toEqual({ setting: null });
    expect(lines[1].connect).toEqual({ reset: http2.constants.NGHTTP2_PROTOCOL_ERROR });
    expect(lines[2].get.status).toBe(200);
    // A new session gets the setting and the WebSocket.
    const ws = await connect(`wss://localhost:${port}`, { ca: certificate.cert, http2: { fallback: false } });
    defer(() => ws.terminate());
    expect(ws.readyState).toBe(1);
  }, 30_000);
});
