/**
 * Process plumbing shared by the multi-process benchmarks: a redis-server of their own, children
 * pinned to a core with taskset (when present), waiting for a line of output or an IPC message,
 * and the median and percentile every benchmark's figures are taken with.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';

const hasTaskset = spawnSync('taskset', ['--version']).status === 0;

/** Spawns `command` pinned to `core` (any core when taskset is missing or core is undefined). */
export function pinned(core: number | undefined, command: string, args: string[], options: Parameters<typeof spawn>[2] = {}): ChildProcess {
  if (hasTaskset && core !== undefined) return spawn('taskset', ['-c', String(core), command, ...args], options);
  return spawn(command, args, options);
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function waitOutput(child: ChildProcess, pattern: RegExp, timeout = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`not ready after ${timeout} ms: ${out}`)), timeout);
    const onData = (chunk: Buffer) => {
      out += chunk;
      if (pattern.test(out)) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(out);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited (${code}) before ready: ${out}`)));
  });
}

/** The next IPC message of `type` from `child`. */
export function nextMessage<T = any>(child: ChildProcess, type: string, timeout = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`no ${type} within ${timeout} ms`));
    }, timeout);
    const onMessage = (message: { type: string }) => {
      if (message.type !== type) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message as T);
    };
    child.on('message', onMessage);
  });
}

export interface Redis {
  url: string;
  port: number;
  child: ChildProcess;
  version: string;
}

export async function startRedis(core: number | undefined, port?: number): Promise<Redis> {
  port ??= await freePort();
  const child = pinned(core, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.on('error', () => {
    console.error('redis-server not found (apt-get install redis-server)');
    process.exit(1);
  });
  await waitOutput(child, /Ready to accept connections/);
  const version = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)?.[1] ?? '?';
  return { url: `redis://127.0.0.1:${port}`, port, child, version };
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export function percentile(sorted: Float64Array | number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
