/**
 * `npm run autobahn [server|client]`: the Autobahn|Testsuite against our server (the suite as
 * client) and our client (the suite as server), both at once, then the summary — the same code as
 * `rfc6455 conformance` (src/cli/conformance/), with our testees.
 * Both at once because the compression sections (12.*, 13.*) take about 25 minutes per direction,
 * nearly all of it the suite waiting on itself (its processes sit near 40% of a core): one after the
 * other would double the longest step of CI, while both together still leave a core to spare.
 * For a quick look at a few sections while working: AUTOBAHN_CASES='1.*,7.*' npm run autobahn.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePatterns } from '../src/cli/conformance/cases.js';
import { testClient } from '../src/cli/conformance/client-side.js';
import { start, stop, stopAll, stoppedOnPurpose, waitForLine } from '../src/cli/conformance/processes.js';
import { progressDone } from '../src/cli/conformance/progress.js';
import { testServer } from '../src/cli/conformance/server-side.js';
import { findSuite, type Suite } from '../src/cli/conformance/suite.js';
import { report, type Direction } from '../src/cli/conformance/summary.js';
import { makeWorkdir, type Workdir } from '../src/cli/conformance/workdir.js';
import { EXCLUDED } from './exclusions.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const reports = join(here, 'reports');
const cases = parsePatterns(process.env.AUTOBAHN_CASES, 'AUTOBAHN_CASES');
const agent = 'rfc6455';

/** Node with tsx's loader, not `npx tsx`: one process, so stopping it leaves no grandchild running. */
function tsx(script: string, ...args: string[]): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', join(here, script), ...args]];
}

/** The suite as client against our echo server. */
async function ourServer(suite: Suite, work: Workdir): Promise<Direction> {
  const testee = start(...tsx('testee-server.ts', '0'), 'testee server');
  const url = await new Promise<string>((resolve, reject) => {
    testee.stdout!.on('data', (chunk: Buffer) => {
      const found = /listening on (ws:\/\/\S+)/.exec(chunk.toString());
      if (found) resolve(found[1]);
    });
    waitForLine(testee, /listening/, 'the testee server', 30_000).catch(reject);
  });
  let crashed = false;
  testee.once('exit', (code, signal) => {
    if (stoppedOnPurpose(testee)) return;
    crashed = true;
    progressDone();
    console.error(`the testee server exited (${signal ?? code}) while the suite ran`);
  });
  try {
    return await testServer(suite, work, { url, agent, cases, exclude: EXCLUDED, name: 'rfc6455 as server', label: 'server' });
  } finally {
    stop(testee);
    if (crashed) console.error('the testee server crashed: the cases after it have no result');
  }
}

/** The suite as server against our client, which walks the cases itself (one process, not 517). */
function ourClient(suite: Suite, work: Workdir): Promise<Direction> {
  const [node, args] = tsx('testee-client.ts', '{url}');
  return testClient(suite, work, { command: [node, ...args], once: true, agent, cases, exclude: EXCLUDED, name: 'rfc6455 as client', label: 'client' });
}

async function main(): Promise<number> {
  const which = process.argv[2] ?? 'both';
  if (!['server', 'client', 'both'].includes(which)) {
    console.error('usage: npm run autobahn [server|client]');
    return 2;
  }
  const suite = findSuite();
  console.log(`Autobahn|Testsuite: ${suite.source}`);
  const work = makeWorkdir();
  const started = Date.now();
  const runs: Array<[string, (suite: Suite, work: Workdir) => Promise<Direction>]> = [];
  if (which !== 'client') runs.push(['server', ourServer]);
  if (which !== 'server') runs.push(['client', ourClient]);
  try {
    const outcomes = await Promise.allSettled(runs.map(([, run]) => run(suite, work)));
    progressDone();
    const directions: Direction[] = [];
    let ranCleanly = true;
    outcomes.forEach((outcome) => {
      if (outcome.status === 'fulfilled') directions.push(outcome.value);
      else {
        ranCleanly = false;
        console.error(outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason));
      }
    });
    mkdirSync(reports, { recursive: true });
    for (const [name] of runs) work.keepHtml(name, join(reports, name));
    console.log(`\nran in ${((Date.now() - started) / 1000).toFixed(0)} s; HTML reports in ${reports}/`);
    const result = report(directions, EXCLUDED);
    for (const line of result.missing) console.error(line);
    console.log('\n' + result.markdown);
    writeFileSync(join(reports, 'summary.md'), result.markdown + '\n');
    writeFileSync(join(reports, 'summary.json'), JSON.stringify(result.summaries, null, 2) + '\n');
    console.log(result.failures === 0 ? 'conformance: every case OK' : `conformance: ${result.failures} problem(s), listed above`);
    return result.failures === 0 && ranCleanly ? 0 : 1;
  } finally {
    work.remove();
  }
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
