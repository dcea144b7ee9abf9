/**
 * `npm run autobahn [server|client]`: runs the Autobahn|Testsuite against our server (the suite as
 * client) and our client (the suite as server), both at once by default, then the summary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { progressPrinter } from './progress.js';
import { report } from './summary.js';
import { countCases, findSuite, here, type Suite } from './wstest.js';

/**
 * Cases allowed to be NON-STRICT or UNIMPLEMENTED. Empty: permessage-deflate is implemented, so
 * 12.* and 13.* run and must be OK like the rest. (FAILED is never allowed.)
 */
const EXCLUDED: string[] = [];

const reports = join(here, 'reports');
const children = new Set<ChildProcess>();

function start(command: string, args: string[], label: string): ChildProcess {
  const child = spawn(command, args, { cwd: here, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  createInterface({ input: child.stderr! }).on('line', (line) => console.error(`[${label}] ${line}`));
  return child;
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

/** The suite's config with its outdir where the suite sees our reports folder, and our exclusions. */
function writeConfig(suite: Suite, name: string, direction: string): string {
  const config = JSON.parse(readFileSync(join(here, name), 'utf8'));
  config.outdir = join(suite.root, 'reports', direction);
  config['exclude-cases'] = EXCLUDED;
  // For a quick look at a few sections while working: AUTOBAHN_CASES='1.*,7.*' npm run autobahn.
  if (process.env.AUTOBAHN_CASES) config.cases = process.env.AUTOBAHN_CASES.split(',');
  const path = join(reports, `${direction}-${name}`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

function suiteArgs(suite: Suite, mode: string, config: string): [string, string[]] {
  const path = suite.root === here ? config : join(suite.root, 'reports', config.slice(reports.length + 1));
  return [suite.command[0], [...suite.command.slice(1), '-m', mode, '-s', path]];
}

function tsx(script: string, ...args: string[]): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', join(here, script), ...args]];
}

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (pattern.test(line)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready`)));
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
}

/** The suite as client against our echo server. */
async function testServer(suite: Suite): Promise<void> {
  const config = writeConfig(suite, 'fuzzingclient.json', 'server');
  const url = JSON.parse(readFileSync(config, 'utf8')).servers[0].url as string;
  const testee = start(...tsx('testee-server.ts', new URL(url).port), 'testee server');
  await waitForLine(testee, /listening/);
  const total = countCases(suite, config);
  const progress = progressPrinter('server');
  const wstest = start(...suiteArgs(suite, 'fuzzingclient', config), 'wstest');
  let n = 0;
  createInterface({ input: wstest.stdout! }).on('line', (line) => {
    const id = /Running test case ID (\S+)/.exec(line)?.[1];
    if (id) progress(++n, total, id);
  });
  const code = await exited(wstest);
  testee.kill();
  if (code !== 0) throw new Error(`wstest (fuzzingclient) exited with ${code}`);
}

/** The suite as server against our client. */
async function testClient(suite: Suite): Promise<void> {
  const config = writeConfig(suite, 'fuzzingserver.json', 'client');
  const url = JSON.parse(readFileSync(config, 'utf8')).url as string;
  const wstest = start(...suiteArgs(suite, 'fuzzingserver', config), 'wstest');
  wstest.stdout!.resume();
  await waitForPort(Number(new URL(url).port), 60_000);
  const testee = start(...tsx('testee-client.ts', url), 'testee client');
  testee.stdout!.pipe(process.stdout);
  const code = await exited(testee);
  wstest.kill();
  if (code !== 0) throw new Error(`the testee client exited with ${code}`);
}

async function main(): Promise<number> {
  const which = process.argv[2] ?? 'both';
  if (!['server', 'client', 'both'].includes(which)) {
    console.error('usage: npm run autobahn [server|client]');
    return 2;
  }
  mkdirSync(reports, { recursive: true });
  const suite = findSuite();
  console.log(`Autobahn|Testsuite: ${suite.source}`);
  const started = Date.now();
  const runs: Array<Promise<void>> = [];
  const directions: Array<{ name: string; dir: string }> = [];
  if (which !== 'client') {
    runs.push(testServer(suite));
    directions.push({ name: 'rfc6455 as server', dir: 'server' });
  }
  if (which !== 'server') {
    runs.push(testClient(suite));
    directions.push({ name: 'rfc6455 as client', dir: 'client' });
  }
  const outcomes = await Promise.allSettled(runs);
  for (const outcome of outcomes) if (outcome.status === 'rejected') console.error(String(outcome.reason));
  console.log(`\nran in ${((Date.now() - started) / 1000).toFixed(0)} s; HTML reports in ${reports}/`);
  const failures = report(reports, directions, EXCLUDED);
  return failures === 0 && outcomes.every((o) => o.status === 'fulfilled') ? 0 : 1;
}

function cleanup(): void {
  for (const child of children) child.kill();
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});
process.on('SIGTERM', () => {
  cleanup();
  process.exit(143);
});

main().then(
  (code) => {
    cleanup();
    process.exit(code);
  },
  (error: Error) => {
    console.error(error.message);
    cleanup();
    process.exit(1);
  },
);
