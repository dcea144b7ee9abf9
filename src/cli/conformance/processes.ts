/**
 * The child processes of a run (testee, suite): started with their stderr shown under a label,
 * waited for, and stopped on every way out of run.ts, Ctrl-C included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { createInterface } from 'node:readline';
import { progressDone } from './progress.js';

const children = new Set<ChildProcess>();
/** Children stopped on purpose, so their exit is not reported as a crash. */
const stopping = new Set<ChildProcess>();

export function start(command: string, args: string[], label: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.on('error', (error) => {
    children.delete(child);
    progressDone();
    console.error(`[${label}] ${error.message}`);
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    progressDone();
    console.error(`[${label}] ${line}`);
  });
  return child;
}

export function stop(child: ChildProcess): void {
  stopping.add(child);
  child.kill();
}

export function stopAll(): void {
  for (const child of children) stop(child);
}

export function stoppedOnPurpose(child: ChildProcess): boolean {
  return stopping.has(child);
}

export function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code ?? 1));
    // A command that cannot be started (ENOENT) never exits.
    child.once('error', () => resolve(127));
  });
}

export function waitForLine(child: ChildProcess, pattern: RegExp, label: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label}: not ready after ${timeoutMs} ms`)), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!pattern.test(line)) return;
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with ${code} before it was ready`));
    });
  });
}

export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Polls until `child` accepts connections on `port`; gives up as soon as it exits. */
export async function waitForPort(child: ChildProcess, port: number, label: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${label} exited before it listened on port ${port}`);
    if (await portInUse(port)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${label}: nothing listens on port ${port} after ${timeoutMs} ms`);
}
