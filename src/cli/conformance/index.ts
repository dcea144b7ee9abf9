/**
 * `rfc6455 conformance`: the Autobahn|Testsuite against any server (the suite as fuzzing client), or
 * with --client against any client command (the suite as fuzzing server). Prints a table per
 * section and every case that is not OK, with the suite's description; exits 1 when a case is
 * FAILED, NON-STRICT or UNIMPLEMENTED outside --exclude, so CI can gate on it.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError, parseEndpoint, probe } from '../probe.js';
import { parsePatterns } from './cases.js';
import { testClient } from './client-side.js';
import { stopAll } from './processes.js';
import { progressDone } from './progress.js';
import { testServer } from './server-side.js';
import { findSuite } from './suite.js';
import { report, type Direction } from './summary.js';
import { makeWorkdir } from './workdir.js';

export const CONFORMANCE_USAGE = `Usage: rfc6455 conformance <ws://host:port/path> [options]
       rfc6455 conformance --client [options] -- COMMAND [ARG...]

Runs the Autobahn|Testsuite against a WebSocket server (the suite connects to the URL, case by
case), or with --client against a client: COMMAND is started once per case with the case's URL;
it must connect, send back every message it receives (text as text, binary as binary) and exit
when the connection closes. The URL replaces {url} in the arguments (or is appended when none has
it) and is in $RFC6455_CONFORMANCE_URL; $RFC6455_CONFORMANCE_CASE_ID holds the case id.

The suite is found or installed by itself: wstest on PATH; else a local install made once into
~/.cache/rfc6455/wstest from PyPI (needs Python 2.7, e.g. pyenv's 2.7.18, and a C compiler);
else the crossbario/autobahn-testsuite Docker image.

  --cases LIST     case patterns to run, e.g. '1.*,2.*,7.5.1' (default: all, about 10-25 min)
  --exclude LIST   case patterns to skip; they may not fail the run
  --agent NAME     the name the suite files the results under (default: testee)
  --json FILE      write the summary (per section, every case not OK) as JSON
  --html DIR       keep the suite's HTML report in DIR
  --once           (--client) start COMMAND once with the suite's base URL instead; it walks the
                   cases itself (/getCaseCount, /runCase?case=N&agent=A, /updateReports?agent=A)
                   and may print "case N of M" lines for the progress line

Exit status: 0 every case OK (or INFORMATIONAL), 1 a case FAILED, NON-STRICT or UNIMPLEMENTED, or
the run stopped early, 2 bad usage.`;

export async function conformance(argv: string[]): Promise<number> {
  const dashes = argv.indexOf('--');
  const command = dashes >= 0 ? argv.slice(dashes + 1) : [];
  const { values, positionals } = parseArgs({
    args: dashes >= 0 ? argv.slice(0, dashes) : argv,
    allowPositionals: true,
    options: {
      client: { type: 'boolean', default: false },
      once: { type: 'boolean', default: false },
      cases: { type: 'string' },
      exclude: { type: 'string' },
      agent: { type: 'string', default: 'testee' },
      json: { type: 'string' },
      html: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(CONFORMANCE_USAGE);
    return 0;
  }
  const cases = parsePatterns(values.cases, '--cases');
  const exclude = parsePatterns(values.exclude, '--exclude');
  if (!/^[A-Za-z0-9_.-]+$/.test(values.agent!)) throw new UsageError(`--agent: ${JSON.stringify(values.agent)} must be letters, digits, . _ or -`);
  let url: URL | null = null;
  if (values.client) {
    if (command.length === 0) throw new UsageError('conformance --client needs the client command after --, e.g. -- node my-client.js {url}');
    if (positionals.length) throw new UsageError('conformance --client takes no URL: the suite serves on a port of its own');
  } else {
    if (positionals.length !== 1) throw new UsageError('conformance needs one URL (ws://host:port/path), or --client -- COMMAND; see --help');
    url = parseEndpoint(positionals[0]);
    await probe(url);
  }

  const suite = findSuite();
  console.error(`Autobahn|Testsuite: ${suite.source}`);
  const work = makeWorkdir();
  const started = Date.now();
  try {
    let direction: Direction;
    if (url) {
      direction = await testServer(suite, work, { url: url.href, agent: values.agent!, cases, exclude, name: `${url.href} as server`, label: 'server' });
    } else {
      direction = await testClient(suite, work, { command, once: values.once!, agent: values.agent!, cases, exclude, name: `${command.join(' ')} as client`, label: 'client' });
    }
    const result = report([direction], exclude);
    console.log(`\n${result.markdown}`);
    for (const line of result.missing) console.error(line);
    console.error(`ran in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (values.html) {
      work.keepHtml(url ? 'server' : 'client', values.html);
      console.error(`HTML report: ${values.html}/index.html`);
    }
    if (values.json) writeFileSync(values.json, JSON.stringify(result.summaries, null, 2) + '\n');
    console.log(result.failures === 0 ? 'conformance: every case OK' : `conformance: ${result.failures} problem(s), listed above`);
    return result.failures === 0 ? 0 : 1;
  } finally {
    work.remove();
  }
}

/** Ctrl-C stops the suite and the client command too, not only this process. */
export function stopOnSignals(): void {
  process.once('SIGINT', () => {
    progressDone();
    stopAll();
    process.exit(130);
  });
  process.once('SIGTERM', () => {
    stopAll();
    process.exit(143);
  });
}
