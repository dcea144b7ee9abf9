/**
 * The suite as fuzzing server, testing a client: COMMAND is started once per case with the case's
 * URL (the client connects, echoes every message, and exits when the connection closes), or with
 * --once a single time with the suite's base URL, walking the cases itself as the suite's own
 * testee clients do (/getCaseCount, /runCase?case=N&agent=A, /updateReports?agent=A).
 *
 * The URL goes where an argument says `{url}` (else it is appended as the last argument) and into
 * $RFC6455_CONFORMANCE_URL; `{agent}` and $RFC6455_CONFORMANCE_AGENT name the agent; per case,
 * $RFC6455_CONFORMANCE_CASE holds its number and $RFC6455_CONFORMANCE_CASE_ID its id.
 */
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { connect } from '../../node/connect.js';
import { CliError } from '../probe.js';
import { exited, start, stop, waitForPort } from './processes.js';
import { progressDone, progressEnd, progressPrinter } from './progress.js';
import type { Direction } from './summary.js';
import { countCases, type Suite } from './suite.js';
import type { Workdir } from './workdir.js';

export interface ClientTarget {
  command: readonly string[];
  once: boolean;
  agent: string;
  cases: readonly string[];
  exclude: readonly string[];
  name: string;
  label: string;
}

/** A case the suite has not closed by then is stuck on the client's side; the client is stopped. */
const CASE_TIMEOUT_MS = 120_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One connection to the suite's control URLs; resolves with the last text message it sent. */
async function ask(url: string): Promise<string> {
  const ws = await connect(url, { proxy: false, perMessageDeflate: false });
  return new Promise((resolve) => {
    let last = '';
    ws.on('message', (data, isBinary) => {
      if (!isBinary) last = data.toString();
    });
    ws.on('close', () => resolve(last));
  });
}

function commandFor(target: ClientTarget, url: string, env: Record<string, string>): [string, string[], NodeJS.ProcessEnv] {
  const hasUrl = target.command.some((arg) => arg.includes('{url}'));
  const args = target.command.map((arg) => arg.replaceAll('{url}', url).replaceAll('{agent}', target.agent));
  if (!hasUrl) args.push(url);
  const [command, ...rest] = args;
  return [command, rest, { ...process.env, RFC6455_CONFORMANCE_URL: url, RFC6455_CONFORMANCE_AGENT: target.agent, ...env }];
}

export async function testClient(suite: Suite, work: Workdir, target: ClientTarget): Promise<Direction> {
  const port = await freePort();
  const base = `ws://127.0.0.1:${port}`;
  const { path } = work.config(suite, 'client', {
    url: base,
    cases: target.cases.length ? target.cases : ['*'],
    'exclude-cases': target.exclude,
    'exclude-agent-cases': {},
  });
  const direction: Direction = { name: target.name, outdir: work.outdir('client'), agent: target.agent, expected: countCases(suite, path) };
  const [command, ...args] = suite.command(work.dir);
  // --webport 0: the suite's report web server would take port 8080, which is not ours to take.
  const wstest = start(command, [...args, '-m', 'fuzzingserver', '-s', suite.seen(work.dir, path), '--webport', '0'], 'wstest', { cwd: work.dir });
  wstest.stdout!.resume();
  try {
    await waitForPort(wstest, port, 'wstest (fuzzingserver)', 60_000);
    const progress = progressPrinter(target.label);
    if (target.once) await runOnce(target, base, direction, progress);
    else await runPerCase(target, base, direction, progress);
    progressEnd(target.label);
    progressDone();
  } finally {
    stop(wstest);
  }
  return direction;
}

async function runOnce(target: ClientTarget, base: string, direction: Direction, progress: ReturnType<typeof progressPrinter>): Promise<void> {
  const [command, args, env] = commandFor(target, base, {});
  const client = start(command, args, target.label, { env });
  // A client that prints "case N of M" lines gets a progress line; anything else it prints is shown.
  createInterface({ input: client.stdout! }).on('line', (line) => {
    const count = /^case (\d+) of (\d+)/.exec(line);
    if (!count) {
      progressDone();
      return console.error(`[${target.label}] ${line}`);
    }
    direction.expected = Number(count[2]);
    progress(Number(count[1]), direction.expected);
  });
  const code = await exited(client);
  if (code !== 0) throw new Error(`the client command exited with ${code}`);
}

async function runPerCase(target: ClientTarget, base: string, direction: Direction, progress: ReturnType<typeof progressPrinter>): Promise<void> {
  const count = Number(await ask(`${base}/getCaseCount`));
  if (!Number.isInteger(count) || count <= 0) throw new Error(`the suite gave no case count at ${base}/getCaseCount`);
  direction.expected = count;
  for (let n = 1; n <= count; n++) {
    const id = await caseId(base, n);
    progress(n, count, id);
    const url = `${base}/runCase?case=${n}&agent=${encodeURIComponent(target.agent)}`;
    const [command, args, env] = commandFor(target, url, { RFC6455_CONFORMANCE_CASE: String(n), RFC6455_CONFORMANCE_CASE_ID: id ?? '' });
    const client = start(command, args, target.label, { env });
    client.stdout!.resume();
    let unstartable: Error | null = null;
    client.once('error', (error) => (unstartable = error));
    const timer = setTimeout(() => {
      progressDone();
      console.error(`[${target.label}] case ${id ?? n}: still running after ${CASE_TIMEOUT_MS / 1000}s; stopped`);
      stop(client);
    }, CASE_TIMEOUT_MS);
    await exited(client);
    clearTimeout(timer);
    // Not a case result: the command is wrong, and would be wrong for every case after it too.
    if (unstartable) throw new CliError(`cannot start the client command ${JSON.stringify(command)}: ${(unstartable as Error).message}`);
  }
  await ask(`${base}/updateReports?agent=${encodeURIComponent(target.agent)}`);
}

/** The suite names case N on request; its id makes the progress line say where the run is. */
async function caseId(base: string, n: number): Promise<string | undefined> {
  try {
    const info = JSON.parse(await ask(`${base}/getCaseInfo?case=${n}`)) as { id?: string };
    return info.id;
  } catch {
    return undefined;
  }
}
