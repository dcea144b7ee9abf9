/**
 * `rfc6455 bench`: drives any WebSocket endpoint (echo, churn or broadcast) and prints what it
 * measured; with --compare, the endpoints take turns within each repetition, so drifting noise on
 * the machine spreads over all of them, and their medians are printed as ratios to the first.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { probe } from '../probe.js';
import { chooseGenerator } from './generator.js';
import { BENCH_USAGE, parseBenchArgs } from './options.js';
import { describeRun, formatComparison, formatCount, formatFigures, medianFigures, toJson, type Endpoint } from './report.js';

function version(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** A status line rewritten in place on a terminal; in a log, a line every five seconds. */
function progressLine(label: string, total: number): { update: (seconds: number, count: number) => void; done: () => void } {
  let open = false;
  let lastLogged = -Infinity;
  return {
    update(seconds, count) {
      const rate = seconds > 0 ? ` (${formatCount(count / seconds)}/s)` : '';
      const line = `${label}: ${seconds.toFixed(0)} of ${total} s, ${formatCount(count)} so far${rate}`;
      if (process.stderr.isTTY) {
        process.stderr.write(`\r${line}\x1b[K`);
        open = true;
      } else if (seconds - lastLogged >= 5) {
        lastLogged = seconds;
        console.error(line);
      }
    },
    done() {
      if (open) process.stderr.write('\r\x1b[K');
      open = false;
    },
  };
}

export async function bench(args: string[]): Promise<number> {
  const options = parseBenchArgs(args);
  if (options === 'help') {
    console.log(BENCH_USAGE);
    return 0;
  }
  for (const url of options.urls) await probe(url, { perMessageDeflate: options.deflate, rejectUnauthorized: !options.insecure });
  const generator = await chooseGenerator(options);
  if (generator.kind === 'js' && options.pin !== null) spawnSync('taskset', ['-cp', String(options.pin), String(process.pid)], { stdio: 'ignore' });
  const say = (line: string) => (options.json ? console.error(line) : console.log(line));
  say(`rfc6455 bench — ${describeRun(options)}`);
  say(`load generator: ${generator.description}`);

  const endpoints: Endpoint[] = options.urls.map((url) => ({ url: url.href, runs: [], median: undefined! }));
  for (let rep = 0; rep < options.reps; rep++) {
    for (const [i, url] of options.urls.entries()) {
      const label = options.reps > 1 || options.compare ? `${url.href} run ${rep + 1}/${options.reps}` : url.href;
      const progress = progressLine(label, options.duration);
      try {
        endpoints[i].runs.push(await generator.run(url, options, progress.update));
      } finally {
        progress.done();
      }
      if (options.compare && !options.json) console.log(`${label}: ${formatCount(endpoints[i].runs.at(-1)!.per_s)}/s`);
    }
  }
  for (const e of endpoints) e.median = medianFigures(e.runs);

  if (options.json) {
    console.log(JSON.stringify(toJson(options, generator, endpoints, version()), null, 2));
  } else if (options.compare) {
    console.log(`\nmedians of ${options.reps} run(s) each, ratios to the first endpoint:`);
    for (const line of formatComparison(options.mode, endpoints)) console.log(line);
  } else {
    console.log(endpoints[0].url);
    for (const line of formatFigures(options.mode, endpoints[0].median)) console.log(line);
  }
  // A server that answers the handshake but sends nothing back measures as zero: say what it means.
  const silent = endpoints.filter((e) => e.median.count === 0);
  for (const e of silent) {
    const expected = options.mode === 'broadcast' ? 'send each message to every connection' : options.mode === 'echo' ? 'send every message back' : 'complete handshakes';
    console.error(`rfc6455 bench: ${e.url} gave nothing to measure: does it ${expected}?`);
  }
  return silent.length ? 1 : 0;
}
