/**
 * A real tinyproxy on a free port of 127.0.0.1, configured in a temp dir: CONNECT allowed to the
 * given ports only, optional Basic auth, and a log at Info level so tests can see which tunnels it
 * opened. `.ci/run` installs the binary; without it the proxy tests skip.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Defer } from './cleanup.js';
import { freePort } from './server.js';
import { delay } from './wait.js';

export const hasTinyproxy = spawnSync('tinyproxy', ['-v'], { stdio: 'ignore' }).error === undefined;

export interface Tinyproxy {
  port: number;
  url: string;
  /** What it logged so far (requests appear as "Request (file descriptor N): CONNECT host:port …"). */
  log(): string;
}

export interface TinyproxyOptions {
  /** Ports CONNECT may reach; others get 403. */
  connectPorts: number[];
  basicAuth?: { user: string; password: string };
}

export async function startTinyproxy(defer: Defer, options: TinyproxyOptions): Promise<Tinyproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'rfc6455-tinyproxy-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const logFile = join(dir, 'tinyproxy.log');
  const config = [
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Timeout 30',
    'Allow 127.0.0.1',
    'LogLevel Info',
    `LogFile "${logFile}"`,
    'MaxClients 50',
    ...options.connectPorts.map((p) => `ConnectPort ${p}`),
    ...(options.basicAuth ? [`BasicAuth ${options.basicAuth.user} ${options.basicAuth.password}`] : []),
  ];
  writeFileSync(join(dir, 'tinyproxy.conf'), config.join('\n') + '\n');
  const child = spawn('tinyproxy', ['-d', '-c', join(dir, 'tinyproxy.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  defer(() => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    return new Promise((resolve) => child.once('exit', resolve));
  });
  await listening(port, () => child.exitCode !== null && `tinyproxy exited (${child.exitCode}): ${stderr}`);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    log: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
  };
}


/** Resolves once something accepts TCP on `port`; fails early if `dead()` says why it never will. */
async function listening(port: number, dead: () => string | false, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const reason = dead();
    if (reason) throw new Error(reason);
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`tinyproxy not listening on ${port} within ${ms} ms`);
    await delay(20);
  }
}

export { freePort };
