/**
 * Python's `websockets` server for the bench tests: installed with pip into a venv in a cache
 * folder the first time (reused after), started on a free port. When Python 3 or PyPI cannot be
 * had, `pythonWebsockets()` says why instead, and the tests that need it skip with that reason.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Defer } from '../helpers/cleanup.js';

const script = fileURLToPath(new URL('./fixtures/websockets_server.py', import.meta.url));
const venv = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'rfc6455-tests', 'websockets-venv');
const python = join(venv, 'bin/python');

/** The venv's python with `websockets` importable, or why there is none. */
export function pythonWebsockets(): { python: string } | { unavailable: string } {
  const imports = () => existsSync(python) && spawnSync(python, ['-c', 'import websockets.asyncio.server'], { stdio: 'ignore' }).status === 0;
  if (imports()) return { python };
  mkdirSync(join(venv, '..'), { recursive: true });
  const created = spawnSync('python3', ['-m', 'venv', venv], { encoding: 'utf8', timeout: 120_000 });
  if (created.status !== 0) return { unavailable: `python3 -m venv failed: ${(created.stderr || created.error?.message || '').trim().split('\n').pop()}` };
  const pip = spawnSync(join(venv, 'bin/pip'), ['install', '--quiet', '--disable-pip-version-check', 'websockets>=13'], { encoding: 'utf8', timeout: 180_000 });
  if (pip.status !== 0 || !imports()) return { unavailable: `pip install websockets failed (is PyPI reachable?): ${(pip.stderr || pip.error?.message || '').trim().split('\n').pop()}` };
  return { python };
}

/** Starts the server (echo or broadcast) and resolves with its URL; stopped at cleanup. */
export function startPythonServer(defer: Defer, pythonPath: string, mode: 'echo' | 'broadcast'): Promise<string> {
  const child = spawn(pythonPath, [script, mode, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  defer(() => child.kill());
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`the websockets server did not start: ${output}`)), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
      const port = /listening (\d+)/.exec(output)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve(`ws://127.0.0.1:${port}/`);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`the websockets server exited (${code}): ${output}`)));
  });
}
