/**
 * `npm run autobahn [server|client]`: runs the Autobahn|Testsuite against our server (the suite as
 * client) and our client (the suite as server), both at once, then the summary.
 * Both at once because the compression sections (12.*, 13.*) take about 25 minutes per direction,
 * nearly all of it the suite waiting on itself (its processes sit near 40% of a core): one after the
 * other would double the longest step of CI, while both together still leave a core to spare.
 * For a quick look at a few sections while working: AUTOBAHN_CASES='1.*,7.*' npm run autobahn.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EXCLUDED } from './exclusions.js';
import { exited, portInUse, start, stop, stopAll, stoppedOnPurpose, waitForLine, waitForPort } from './processes.js';
import { progressDone, progressEnd, progressPrinter } from './progress.js';
import { DIRECTIONS, report, type Direction } from './summary.js';
import { countCases, findSuite, here, type Suite } from './wstest.js';

const reports = join(here, 'reports');

/**
 * The suite's config as it will read it: outdir where the suite sees our reports folder, our
 * exclusions. The old outdir is emptied first: a run that dies early must not be summarised from
 * the last run's index.json.
 */
function writeConfig(suite: Suite, name: string, direction: string): string {
  const config = JSON.parse(readFileSync(join(here, name), 'utf8'));
  rmSync(join(reports, direction), { recursive: true, force: true });
  config.outdir = join(suite.root, 'reports', direction);
  config['exclude-cases'] = [...EXCLUDED];
  if (process.env.AUTOBAHN_CASES) config.cases = process.env.AUTOBAHN_CASES.split(',');
  const path = join(reports, `${direction}-${name}`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

function suiteArgs(suite: Suite, mode: string, config: string, ...more: string[]): [string, string[]] {
  const path = suite.root === here ? config : join(suite.root, 'reports', config.slice(reports.length + 1));
  return [suite.command[0], [...suite.command.slice(1), '-m', mode, '-s', path, ...more]];
}

/** Node with tsx's loader, not `npx tsx`: one process, so killing it leaves no grandchild running. */
function tsx(script: string, ...args: string[]): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', join(here, script), ...args]];
}

/** Another run (or anything else) on our port would be tested in our place, or take our cases. */
async function ensureFree(url: string): Promise<number> {
  const port = Number(new URL(url).port);
  if (await portInUse(port)) throw new Error(`port ${port} is already in use (another Autobahn run?); free it and rerun`);
  return port;
}

/** The suite as client against our echo server. */
async function testServer(suite: Suite, direction: Direction): Promise<void> {
  const config = writeConfig(suite, 'fuzzingclient.json', 'server');
  const url = JSON.parse(readFileSync(config, 'utf8')).servers[0].url as string;
  const port = await ensureFree(url);
  const testee = start(...tsx('testee-server.ts', String(port)), 'testee server', here);
  await waitForLine(testee, /listening/, 'the testee server', 30_000);
  let crashed = false;
  testee.once('exit', (code, signal) => {
    if (stoppedOnPurpose(testee)) return;
    crashed = true;
    progressDone();
    console.error(`the testee server exited (${signal ?? code}) while the suite ran`);
  });
  const total = countCases(suite, config);
  direction.expected = total;
  const progress = progressPrinter('server');
  const wstest = start(...suiteArgs(suite, 'fuzzingclient', config), 'wstest', here);
  let n = 0;
  createInterface({ input: wstest.stdout! }).on('line', (line) => {
    const id = /Running test case ID (\S+)/.exec(line)?.[1];
    if (id) progress(++n, total, id);
    // The suite gives up on the rest of the cases after one failed connect, and still exits 0.
    else if (/^Connection to .* failed/.test(line)) {
      progressDone();
      console.error(`[wstest] ${line}`);
    }
  });
  const code = await exited(wstest);
  progressEnd('server');
  stop(testee);
  if (code !== 0) throw new Error(`wstest (fuzzingclient) exited with ${code}`);
  if (crashed) throw new Error('the testee server crashed: the cases after it have no result');
}

/** The suite as server against our client. */
async function testClient(suite: Suite, direction: Direction): Promise<void> {
  const config = writeConfig(suite, 'fuzzingserver.json', 'client');
  const url = JSON.parse(readFileSync(config, 'utf8')).url as string;
  const port = await ensureFree(url);
  // --webport 0: the suite's report web server would take port 8080, which is not ours to take.
  const wstest = start(...suiteArgs(suite, 'fuzzingserver', config, '--webport', '0'), 'wstest', here);
  wstest.stdout!.resume();
  await waitForPort(wstest, port, 'wstest (fuzzingserver)', 60_000);
  const testee = start(...tsx('testee-client.ts', url), 'testee client', here);
  const progress = progressPrinter('client');
  direction.expected = countCases(suite, config);
  createInterface({ input: testee.stdout! }).on('line', (line) => {
    const count = /^case (\d+) of (\d+)/.exec(line);
    if (!count) {
      progressDone();
      return console.log(`[testee client] ${line}`);
    }
    direction.expected = Number(count[2]);
    progress(Number(count[1]), direction.expected);
  });
  const code = await exited(testee);
  progressEnd('client');
  stop(wstest);
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
  const runs: Array<[Direction, (suite: Suite, direction: Direction) => Promise<void>]> = [];
  if (which !== 'client') runs.push([{ ...DIRECTIONS.server }, testServer]);
  if (which !== 'server') runs.push([{ ...DIRECTIONS.client }, testClient]);
  const outcomes = await Promise.allSettled(runs.map(([direction, run]) => run(suite, direction)));
  progressDone();
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') console.error(outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason));
  }
  const directions = runs.map(([direction]) => direction);
  const ranCleanly = outcomes.every((outcome) => outcome.status === 'fulfilled');
  console.log(`\nran in ${((Date.now() - started) / 1000).toFixed(0)} s; HTML reports in ${reports}/`);
  const failures = report(reports, directions);
  return failures === 0 && ranCleanly ? 0 : 1;
}

process.on('SIGINT', () => {
  progressDone();
  stopAll();
  process.exit(130);
});
process.on('SIGTERM', () => {
  stopAll();
  process.exit(143);
});

main().then(
  (code) => {
    stopAll();
    process.exit(code);
  },
  (error: Error) => {
    progressDone();
    console.error(error.message);
    stopAll();
    process.exit(1);
  },
);
