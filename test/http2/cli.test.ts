/**
 * The CLI over HTTP/2: `rfc6455 echo --cert --key` serves wss:// on one port over HTTP/1.1 and
 * HTTP/2, and `rfc6455 connect --http2` opens its WebSocket as a stream of an HTTP/2 connection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/index.js';
import { useCertificate } from '../helpers/certificate.js';
import { useCleanup } from '../helpers/cleanup.js';
import { nextMessage } from '../helpers/wait.js';
import { h2Session } from './helpers.js';

const defer = useCleanup();
const root = new URL('../../', import.meta.url);
const certificate = useCertificate();

function run(args: string[]): { child: ChildProcess; output: () => string; until: (pattern: RegExp) => Promise<RegExpMatchArray> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: root, env: { ...process.env, NO_PROXY: '*' }, stdio: ['pipe', 'pipe', 'pipe'] });
  defer(() => child.exitCode === null && child.kill('SIGKILL'));
  let text = '';
  child.stdout!.on('data', (chunk) => (text += chunk));
  child.stderr!.on('data', (chunk) => (text += chunk));
  const until = (pattern: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} in:\n${text}`)), 15_000);
      const check = () => {
        const match = pattern.exec(text);
        if (!match) return;
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(match);
      };
      child.stdout!.on('data', check);
      check();
    });
  return { child, output: () => text, until };
}

describe('rfc6455 CLI over HTTP/2', () => {
  it('echo --cert --key serves both protocols on its port; connect --http2 uses HTTP/2', async () => {
    const keyFile = join(tmpdir(), `rfc6455-cli-h2-key-${process.pid}.pem`);
    writeFileSync(keyFile, certificate.key);
    const server = run(['echo', '--port', '0', '--cert', certificate.certFile, '--key', keyFile]);
    const [, port] = await server.until(/listening on wss:\/\/127\.0\.0\.1:(\d+) \(HTTP\/1\.1 and HTTP\/2\)/);
    const { settings } = await h2Session(defer, Number(port), certificate);
    expect(settings.enableConnectProtocol).toBe(true);
    // Our library over HTTP/1.1 against the CLI's port.
    const h1 = await connect(`wss://localhost:${port}`, { ca: certificate.cert });
    const reply = nextMessage(h1);
    h1.send('over 1.1');
    expect((await reply).data.toString()).toBe('over 1.1');
    h1.close();
    const client = run(['connect', '--http2', '--ca', certificate.certFile, `wss://localhost:${port}/cli`]);
    await client.until(/connected to wss:\/\/localhost:\d+\/cli over HTTP\/2/);
    client.child.stdin!.write('hello over h2\n');
    await client.until(/< hello over h2/);
    client.child.stdin!.end();
    const [code] = await once(client.child, 'exit');
    expect(code).toBe(0);
    expect(client.output()).toMatch(/closed: 1000/);
    server.child.kill('SIGINT');
    await once(server.child, 'exit');
  }, 30_000);
});
