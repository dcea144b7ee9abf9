'use strict';
// Runs ws's three public-API test files with mocha against rfc6455 (through preload.cjs) and prints
// every test as PASS / FAIL / SKIP with totals. When a test kills the mocha process, that test is
// recorded as failed and mocha is started again on the tests not yet run; so is it when a failing
// hook made mocha skip the rest of a suite. Each failed test is then run again on its own.
// Usage: node run.cjs WS-CHECKOUT [FILE-FILTER]   (run.sh installs ws's devDependencies first)
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ws = path.resolve(process.argv[2]);
const filter = process.argv[3] || '';
const out = process.env.WS_SUITE_OUT || '/tmp/ws-suite';
const files = ['websocket', 'websocket-server', 'create-websocket-stream'].filter((f) => f.includes(filter));
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function read(report) {
  const lines = fs.readFileSync(report, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const listed = lines.filter((l) => l.status === 'listed').map((l) => l.title);
  const result = new Map();
  let running;
  for (const l of lines) {
    if (l.status === 'listed') continue;
    if (l.status === 'begin') running = l.title;
    // A test can fail after it passed (its afterEach, a late uncaught error): the failure wins.
    else if (!result.has(l.title) || l.status === 'fail') result.set(l.title, l), (running = undefined);
  }
  return { listed, result, running };
}

/** Why mocha died: the first error line of its stderr. */
function killed(run) {
  const why = /^(\w*Error\b.*|.*: .*)$/m.exec(run.stderr || '');
  return `killed the mocha process: ${why ? why[0].slice(0, 160) : `exit ${run.status}`}`;
}

function mocha(file, report, args, list) {
  const env = { ...process.env, WS_SUITE_ROOT: ws, WS_SUITE_REPORT: report };
  if (list) env.WS_SUITE_LIST = '1';
  const all = ['--exit', '--require', path.join(__dirname, 'preload.cjs'), '--reporter', path.join(__dirname, 'reporter.cjs'), ...args, `test/${file}.test.js`];
  return spawnSync(path.join(ws, 'node_modules', '.bin', 'mocha'), all, { cwd: ws, env, encoding: 'utf8', timeout: 600_000 });
}

// The whole file, in order, as ws runs it.
function inSequence(file, report, log) {
  fs.writeFileSync(report, '');
  fs.writeFileSync(log, '');
  for (let attempt = 0; attempt < 50; attempt++) {
    const before = attempt === 0 ? undefined : read(report);
    const args = before ? ['--invert', '--grep', `^(?:${[...before.result.keys()].map(escape).join('|')})$`] : [];
    const run = mocha(file, report, args, attempt === 0);
    fs.appendFileSync(log, `--- attempt ${attempt} (exit ${run.status})\n${run.stdout}${run.stderr}`);
    const now = read(report);
    if (now.result.size >= now.listed.length) break;
    // No test running and nothing new: what is left cannot be reached (a filter, a suite hook).
    if (!now.running) {
      if (before && now.result.size === before.result.size) break;
      continue; // a failed hook made mocha skip the rest of its suite: run those on their own
    }
    fs.appendFileSync(report, JSON.stringify({ status: 'fail', title: now.running, error: killed(run) }) + '\n');
  }
  return read(report);
}

// A test of ws's suite that fails can leave a listener or a server behind that makes the next
// ones fail (ws's tests share servers within a describe block): each failed test again, alone.
function alone(file, title) {
  const report = path.join(out, `${file}.alone.jsonl`);
  fs.writeFileSync(report, '');
  const run = mocha(file, report, ['--grep', `^${escape(title)}$`], false);
  const r = read(report).result.get(title);
  return r ?? { status: 'fail', error: killed(run) };
}

let passed = 0;
let passedAlone = 0;
let total = 0;
for (const file of files) {
  const { listed, result } = inSequence(file, path.join(out, `${file}.jsonl`), path.join(out, `${file}.log`));
  let ok = 0;
  let okAlone = 0;
  for (const title of listed) {
    const r = result.get(title);
    if (!r) console.log(`NOT RUN ${file} :: ${title}`);
    else if (r.status === 'pass') ok++, okAlone++, console.log(`PASS ${file} :: ${title}`);
    else if (r.status === 'pending') console.log(`SKIP ${file} :: ${title}`);
    else {
      const a = alone(file, title);
      if (a.status === 'pass') okAlone++, console.log(`PASS ALONE ${file} :: ${title} -- in sequence: ${r.error}`);
      else console.log(`FAIL ${file} :: ${title} -- ${a.error}`);
    }
  }
  // Hook failures carry their own titles: shown, not counted.
  for (const [title, r] of result) if (!listed.includes(title)) console.log(`HOOK FAIL ${file} :: ${title} -- ${r.error}`);
  console.log(`TOTAL ${file}: ${ok}/${listed.length} passed in sequence, ${okAlone}/${listed.length} alone`);
  passed += ok;
  passedAlone += okAlone;
  total += listed.length;
}
console.log(`TOTAL all: ${passed}/${total} passed in sequence, ${passedAlone}/${total} alone`);
