/**
 * One server under attack in its own child process (bench/hostile/server.mjs), pinned to core 0
 * when taskset exists, with --expose-gc; memory samples come back over IPC. A server that dies
 * (out of memory, killed) is reported, never thrown at the whole run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');

export const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;

export type ServerKind = 'rfc6455' | 'ws';

export interface ServerConfig {
  kind: ServerKind;
  maxPayload: number;
  deflate: boolean;
}

export interface MemorySample {
  heapUsed: number;
  arrayBuffers: number;
  external: number;
  rss: number;
  peakRss: number;
  /** Connections the server still counts as clients. */
  open: number;
  /** Sum of the clients' bufferedAmount: bytes waiting to be sent. */
  bufferedAmount: number;
}

/**
 * Where rfc6455 comes from: 'dist' (the built package, plain node), 'src' (through tsx), or a path
 * to any build's index.js (another commit's dist/, say).
 */
export function rfc6455Module(lib: string): { module: string; tsx: boolean } {
  if (lib === 'dist') return { module: pathToFileURL(path.join(repo, 'dist/index.js')).href, tsx: false };
  if (lib === 'src') return { module: pathToFileURL(path.join(repo, 'src/index.ts')).href, tsx: true };
  return { module: pathToFileURL(path.resolve(lib)).href, tsx: lib.endsWith('.ts') };
}

export function wsVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('ws/package.json') as { version: string }).version;
}

export class ServerProcess {
  port = 0;
  /** Set once the process has exited: why, e.g. "exit 134: JavaScript heap out of memory". */
  died: string | null = null;
  /** Highest RSS the server reported while running (survives a crash). */
  lastPeak = 0;
  private readonly child: ChildProcess;
  private stderr = '';
  private nextId = 1;
  private readonly waiting = new Map<number, (sample: MemorySample) => void>();
  private readonly exited: Promise<void>;

  private constructor(config: ServerConfig, lib: string) {
    const { module, tsx } = config.kind === 'ws' ? { module: 'ws', tsx: false } : rfc6455Module(lib);
    const node = [...(tsx ? ['--import', 'tsx'] : []), '--expose-gc', path.join(here, 'server.mjs'), JSON.stringify({ ...config, module })];
    const [cmd, args] = hasTaskset ? ['taskset', ['-c', '0', process.execPath, ...node]] : [process.execPath, node];
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    this.child = spawn(cmd, args as string[], { cwd: repo, env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-4000)));
    this.child.on('message', (message: { type: string; id?: number; rss?: number; line?: string } & MemorySample) => {
      if (message.type === 'peak') this.lastPeak = Math.max(this.lastPeak, message.rss!);
      else if (message.type === 'sample') {
        this.lastPeak = Math.max(this.lastPeak, message.peakRss);
        this.waiting.get(message.id!)?.(message);
        this.waiting.delete(message.id!);
      } else if (message.type === 'log') process.stderr.write(`  [server] ${message.line}\n`);
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        const fatal = /FATAL ERROR[^\n]*|out of memory[^\n]*/i.exec(this.stderr)?.[0];
        this.died = `${signal ?? `exit ${code}`}${fatal ? `: ${fatal.trim()}` : ''}`;
        resolve();
      }),
    );
  }

  static async start(config: ServerConfig, lib: string): Promise<ServerProcess> {
    const server = new ServerProcess(config, lib);
    const ready = new Promise<number>((resolve) =>
      server.child.on('message', (m: { type: string; port?: number }) => m.type === 'ready' && resolve(m.port!)),
    );
    const port = await Promise.race([ready, server.exited.then(() => 0)]);
    if (!port) throw new Error(`server did not start (${server.died}): ${server.stderr.trim().split('\n').slice(-3).join(' ')}`);
    server.port = port;
    return server;
  }

  /** Memory after two full GCs; null when the server is gone or does not answer within `ms`. */
  async sample(resetPeak = false, ms = 60_000): Promise<MemorySample | null> {
    if (this.died) return null;
    const id = this.nextId++;
    const answer = new Promise<MemorySample>((resolve) => this.waiting.set(id, resolve));
    this.child.send({ type: 'sample', id, resetPeak });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
    const result = await Promise.race([answer, this.exited.then(() => null), timeout]);
    clearTimeout(timer);
    // From here on lastPeak is the peak since this sample (the child resets its own after replying).
    if (result && resetPeak) this.lastPeak = result.rss;
    return result;
  }

  async stop(): Promise<void> {
    if (!this.died) this.child.kill('SIGKILL');
    await this.exited;
  }
}
