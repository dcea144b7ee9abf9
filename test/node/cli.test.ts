/**
 * The `rfc6455` command, spawned as a user runs it (src/cli.ts through tsx) against real servers:
 * --version, `connect` to a dev wss:// server with --ca or --insecure, and a refused handshake
 * shown with the server's status, headers and body.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from '../../src/index.js';
import { useCertificate } from '../helpers/certificate.js';
import { useCleanup } from '../helpers/cleanup.js';
import { startServer } from '../helpers/server.js';

const defer = useCleanup();
const root = new URL('../../', import.meta.url);

const certificate = useCertificate();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI; each of `lines` is typed once the previous output contains `waitFor` (the
 * "connected" line), then stdin is closed, which makes `connect` close with 1000 and exit.
 */
async function cli(args: string[], options: { lines?: string[]; after?: string } = {}): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: root,
    env: { ...process.env, NO_PROXY: '*' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  defer(() => child.exitCode === null && child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = [...(options.lines ?? [])];
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    // Type the next line once the previous one came back (or, first, once connected).
    const expected = options.after && stdout.includes(options.after);
    if (!expected) return;
    const echoed = stdout.split('\n').filter((line) => line.startsWith('< ')).length;
    const sent = (options.lines?.length ?? 0) - lines.length;
    if (echoed < sent) return;
    const line = lines.shift();
    if (line === undefined) child.stdin.end();
    else child.stdin.write(`${line}\n`);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

async function wssEcho(): Promise<number> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', key: certificate.key, cert: certificate.cert });
  defer(() => server.close({ timeout: 100 }));
  await once(server, 'listening');
  server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return (server.address() as AddressInfo).port;
}

describe('rfc6455 CLI', () => {
  it("--version prints package.json's version", async () => {
    const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
    const run = await cli(['--version']);
    expect(run).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it('connect --ca FILE trusts a dev server’s self-signed certificate: lines go out, echoes come back, Ctrl-D closes 1000', async () => {
    const port = await wssEcho();
    const run = await cli(['connect', `wss://localhost:${port}/`, '--ca', certificate.certFile], { lines: ['hello', 'über'], after: 'connected to' });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`connected to wss://localhost:${port}/`);
    expect(run.stdout).toContain('< hello\n< über\n');
    expect(run.stdout).toContain('closed: 1000');
  });

  it('connect --insecure skips the certificate check; without --ca or --insecure the certificate is refused', async () => {
    const port = await wssEcho();
    const insecure = await cli(['connect', '--insecure', `wss://127.0.0.1:${port}/`], { lines: ['anyway'], after: 'connected to' });
    expect(insecure.code).toBe(0);
    expect(insecure.stdout).toContain('< anyway\n');
    const strict = await cli(['connect', `wss://127.0.0.1:${port}/`]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/self[- ]signed certificate/i);
  });

  it("a refused handshake shows the server's status, headers and body", async () => {
    const { port } = await startServer(defer, {
      verifyClient: (_info, cb) => cb(false, 429, 'Too many attempts, try later', { 'Retry-After': '30' }),
    });
    const run = await cli(['connect', `ws://127.0.0.1:${port}/`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('rfc6455: Unexpected server response: 429\n');
    expect(run.stderr).toContain('HTTP 429\n');
    expect(run.stderr).toMatch(/^retry-after: 30$/m);
    expect(run.stderr).toMatch(/\n\nToo many attempts, try later\n$/);
  });
});
