/**
 * Real components for the pub/sub tests: a redis-server of our own on a free port (persistence
 * off), WebSocket server processes started with tsx from a fixture script, and small helpers to
 * wait for things with a deadline. Every process started here is killed by `cleanup()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, type WebSocket } from '../../src/index.js';
import { freePort } from '../helpers/server.js';

const here = fileURLToPath(new URL('.', import.meta.url));
export const SERVER_FIXTURE = `${here}fixtures/server.ts`;


/** Fails (does not skip) when redis-server is missing: CI installs it (.ci/run). */
export function requireRedisServer(): string {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.error || found.status !== 0) {
    throw new Error(
      'redis-server is not installed, and these tests need a real one. Install it with ' +
        '`apt-get update && apt-get install -y redis-server` (.ci/run does this before `npm test`).',
    );
  }
  return found.stdout.trim();
}

const processes = new Set<ChildProcess>();

/** Waits until `pattern` appears in the process's output; rejects on exit or after `timeout` ms. */
function waitForOutput(child: ChildProcess, pattern: RegExp, timeout: number, what: string): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(pattern);
      if (match) {
        done();
        resolve(match);
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`${what} exited (${code ?? signal}) before it was ready:\n${output}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${what} not ready after ${timeout} ms:\n${output}`));
    }, timeout);
    const done = () => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.stderr!.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
}

export interface RedisProcess {
  port: number;
  url: string;
  child: ChildProcess;
  /** SIGKILL, and resolves once it has exited. */
  kill(): Promise<void>;
}

/**
 * `aof`: a directory for an append-only file written on every command (appendfsync always), so a
 * kill -9 loses nothing and a restart on the same directory comes back with every key.
 */
export async function startRedis(port?: number, options: { aof?: string } = {}): Promise<RedisProcess> {
  requireRedisServer();
  port ??= await freePort();
  const persistence = options.aof ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', options.aof] : ['--appendonly', 'no'];
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  processes.add(child);
  await waitForOutput(child, /Ready to accept connections/, 10_000, `redis-server on port ${port}`);
  return { port, url: `redis://127.0.0.1:${port}`, child, kill: () => killProcess(child) };
}

export interface ServerProcess {
  name: string;
  port: number;
  url: string;
  child: ChildProcess;
  /** Everything the process printed. */
  output(): string;
  kill(): Promise<void>;
}

/** Starts test/pubsub/fixtures/server.ts (or another script) with tsx; resolves once it listens. */
export async function startServer(name: string, env: Record<string, string>, script = SERVER_FIXTURE, ready = /LISTENING/): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, PORT: String(port), NAME: name, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  processes.add(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // Generous: tsx compiles the fixture first, and a loaded machine (CI, parallel suites) is slow at it.
  await waitForOutput(child, ready, 45_000, `server ${name}`);
  return { name, port, url: `ws://127.0.0.1:${port}`, child, output: () => output, kill: () => killProcess(child) };
}

export function killProcess(child: ChildProcess): Promise<void> {
  processes.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

export async function cleanup(): Promise<void> {
  await Promise.all([...processes].map(killProcess));
}

/** Polls `check` until it returns true; fails after `timeout` ms with `what`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeout = 10_000, every = 20): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    await sleep(every);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A client of a fixture server: every message it received, and the fixture's commands. */
export interface Probe {
  ws: WebSocket;
  /** Text messages published to this client (acks excluded), in order of arrival. */
  texts: string[];
  binaries: Buffer[];
  closed: boolean;
  command(op: Record<string, unknown>): Promise<void>;
  subscribe(topic: string): Promise<void>;
  unsubscribe(topic: string): Promise<void>;
  publish(topic: string, data: string, extra?: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/** Wraps an open connection to a fixture server: acks are `{"ack":n}`, anything else was published. */
export function probe(ws: WebSocket): Probe {
  let next = 0;
  const acks = new Map<number, () => void>();
  const p: Probe = {
    ws,
    texts: [],
    binaries: [],
    closed: false,
    command(op) {
      const id = ++next;
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ack for ${JSON.stringify(op)}`)), 10_000);
        acks.set(id, () => {
          clearTimeout(timer);
          resolve();
        });
        ws.send(JSON.stringify({ ...op, id }));
      });
    },
    subscribe: (topic) => p.command({ op: 'sub', topic }),
    unsubscribe: (topic) => p.command({ op: 'unsub', topic }),
    publish: (topic, data, extra) => p.command({ op: 'pub', topic, data, ...extra }),
    close: () =>
      new Promise<void>((resolve) => {
        if (p.closed) return resolve();
        ws.once('close', () => resolve());
        ws.close();
      }),
  };
  ws.on('message', (data, isBinary) => {
    if (isBinary) return void p.binaries.push(data);
    const text = data.toString();
    if (text.startsWith('{"ack":')) return acks.get(JSON.parse(text).ack)?.();
    p.texts.push(text);
  });
  ws.on('close', () => (p.closed = true));
  return p;
}

export async function openProbe(url: string): Promise<Probe> {
  return probe(await connect(url, { perMessageDeflate: false }));
}

export { freePort };
