/**
 * Hostile peers: what a server holds per connection while raw peers attack it over loopback,
 * rfc6455 and ws side by side in one run (bench/hostile/: the attacks, the peer, the server
 * process, the report).
 *
 *   npx tsx bench/hostile.ts [--servers rfc6455,ws] [--scenarios id,...] [--reps 3]
 *                            [--rfc6455 dist|src|path/to/index.js] [--no-build]
 *                            [--md bench/results/hostile.md] [--json FILE]
 *
 * --rfc6455 dist (default) runs `npm run build` first and loads dist/ with plain node; src loads
 * src/ through tsx; a path loads that build (e.g. another commit's dist/index.js) as it is.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cells, markdown, type Meta } from './hostile/report.js';
import { runOnce, type RunResult } from './hostile/runner.js';
import { SCENARIOS } from './hostile/scenarios.js';
import { hasTaskset, wsVersion, type ServerKind } from './hostile/server-process.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
};
const servers = (option('servers') ?? 'rfc6455,ws').split(',') as ServerKind[];
for (const s of servers) if (s !== 'rfc6455' && s !== 'ws') throw new Error(`unknown server ${s} (rfc6455, ws)`);
const scenarioFilter = option('scenarios')?.split(',');
const scenarios = SCENARIOS.filter((s) => !scenarioFilter || scenarioFilter.includes(s.id));
const reps = Number(option('reps') ?? 3);
const lib = option('rfc6455') ?? 'dist';
const mdFile = path.resolve(option('md') ?? path.join(repo, 'bench/results/hostile.md'));
const jsonFile = option('json');

const t0 = Date.now();
const log = (line: string) => console.log(`[${String(Math.round((Date.now() - t0) / 1000)).padStart(4)}s] ${line}`);

// Attackers on core 1, the servers on core 0.
if (hasTaskset && os.cpus().length > 1) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
if (!hasTaskset) log('taskset is not available: processes are not pinned');

if (servers.includes('rfc6455') && lib === 'dist' && !argv.includes('--no-build')) {
  log('npm run build');
  execFileSync('npm', ['run', 'build'], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] });
}

const results: RunResult[] = [];
for (const scenario of scenarios) {
  for (let rep = 1; rep <= reps; rep++) {
    for (const server of servers) {
      try {
        const r = await runOnce(scenario, server, lib, rep);
        results.push(r);
        const held = r.heldPerConnection === null ? '—' : `${Math.round(r.heldPerConnection)} B/conn`;
        log(`${scenario.id} ${server} #${rep}: held ${held}, ${JSON.stringify(r.endings)}${r.crashed ? `, crashed: ${r.crashed}` : ''} (${r.ms} ms)`);
      } catch (error) {
        log(`${scenario.id} ${server} #${rep}: failed: ${(error as Error).message}`);
        const crashed = `run failed: ${(error as Error).message}`.slice(0, 120);
        results.push({
          scenario: scenario.id, server, rep, connections: scenario.connections, before: null, during: null,
          heldPerConnection: null, heapPerConnection: null, arrayBuffersPerConnection: null, peakRssDelta: null,
          crashed, endings: { crashed: scenario.connections }, closedAfter: null, sent: 0, ms: 0,
        });
      }
    }
  }
}

const git = (...args: string[]) => spawnSync('git', args, { cwd: repo, encoding: 'utf8' }).stdout.trim();
const dirty = git('status', '--porcelain', '--', 'src').length > 0 ? '+dirty src' : '';
const meta: Meta = {
  date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
  commit: git('rev-parse', '--short', 'HEAD') + dirty,
  rfc6455: lib,
  ws: wsVersion(),
  node: process.versions.node,
  cpu: `${os.cpus().length}× ${os.cpus()[0]?.model.trim() ?? 'cpu'}`,
  pinned: hasTaskset,
  reps,
  seconds: (Date.now() - t0) / 1000,
};
const summary = cells(results, scenarios, servers);
const md = markdown(meta, summary, scenarios, servers);
console.log('\n' + md);
mkdirSync(path.dirname(mdFile), { recursive: true });
writeFileSync(mdFile, md);
log(`wrote ${path.relative(process.cwd(), mdFile)}`);
if (jsonFile) {
  writeFileSync(jsonFile, JSON.stringify({ meta, scenarios: scenarios.map(({ attack: _, ...s }) => s), summary, runs: results }, null, 2) + '\n');
  log(`wrote ${jsonFile}`);
}
