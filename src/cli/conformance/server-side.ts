/** The suite as fuzzing client against a server: every selected case is a connection to `url`. */
import { createInterface } from 'node:readline';
import { exited, start } from './processes.js';
import { progressDone, progressEnd, progressPrinter } from './progress.js';
import type { Direction } from './summary.js';
import { countCases, type Suite } from './suite.js';
import type { Workdir } from './workdir.js';

export interface ServerTarget {
  url: string;
  agent: string;
  cases: readonly string[];
  exclude: readonly string[];
  /** Title of the summary table. */
  name: string;
  /** Label of the progress line. */
  label: string;
}

export async function testServer(suite: Suite, work: Workdir, target: ServerTarget): Promise<Direction> {
  const { path } = work.config(suite, 'server', {
    servers: [{ agent: target.agent, url: target.url }],
    cases: target.cases.length ? target.cases : ['*'],
    'exclude-cases': target.exclude,
    'exclude-agent-cases': {},
  });
  const direction: Direction = { name: target.name, outdir: work.outdir('server'), agent: target.agent, expected: countCases(suite, path) };
  const progress = progressPrinter(target.label);
  const [command, ...args] = suite.command(work.dir);
  const wstest = start(command, [...args, '-m', 'fuzzingclient', '-s', suite.seen(work.dir, path)], 'wstest', { cwd: work.dir });
  let n = 0;
  let connectFailed = '';
  createInterface({ input: wstest.stdout! }).on('line', (line) => {
    const id = /Running test case ID (\S+)/.exec(line)?.[1];
    if (id) progress(++n, direction.expected ?? null, id);
    // The suite gives up on the rest of the cases after one failed connect, and still exits 0.
    else if (/^Connection to .* failed/.test(line)) {
      connectFailed = line;
      progressDone();
      console.error(`[wstest] ${line}`);
    }
  });
  const code = await exited(wstest);
  progressEnd(target.label);
  progressDone();
  if (code !== 0) throw new Error(`wstest (fuzzingclient) exited with ${code}`);
  if (connectFailed && direction.expected == null) direction.expected = n + 1;
  return direction;
}
