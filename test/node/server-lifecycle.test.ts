// WebSocketServer lifecycle: close() called more than once, and handshake timers that must not
// outlive the handshake they guard (so a closed server lets its process exit).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { nextConnection, startServer } from '../helpers/server.js';

const defer = useCleanup();
const FIXTURE = fileURLToPath(new URL('./fixtures/handshake-exit.ts', import.meta.url));

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} not within ${ms} ms`)), ms))]);
}

describe('server.close() twice', () => {
  it('both calls resolve, with the same promise, a callback on the second is called, and a later call resolves', async () => {
    const { server, url } = await startServer(defer);
    const accepted = nextConnection(server);
    const client = await connect(url);
    defer(() => client.terminate());
    await accepted;
    const first = server.close();
    let called = false;
    const second = server.close(() => (called = true));
    expect(second).toBe(first);
    await within(Promise.all([first, second]), 3000, 'both close() promises');
    await within(
      (async () => {
        while (!called) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      1000,
      'the second callback',
    );
    await within(server.close(), 1000, 'close() after close');
  });
});

describe('handshake timers do not keep a closed server alive', () => {
  // handshakeTimeout in the fixture is 30 s; a process still alive 3 s after close() is held by one.
  for (const mode of ['refused', 'hangup', 'hook']) {
    it(`${mode}: the process exits promptly after close()`, async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
      defer(() => child.kill('SIGKILL'));
      let output = '';
      let closedAt = 0;
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (!closedAt && output.includes('CLOSED')) closedAt = Date.now();
      });
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await within(new Promise<number | null>((resolve) => child.on('exit', resolve)), 15_000, `exit (${output})`);
      expect(output).toContain('CLOSED');
      expect(code).toBe(0);
      expect(Date.now() - closedAt).toBeLessThan(3000);
    });
  }
});
