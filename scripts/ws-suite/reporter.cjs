'use strict';
// A mocha reporter that appends one JSON line per event to $WS_SUITE_REPORT as it happens: so a
// test that kills the process (some of ws's tests take over 'uncaughtException' and rethrow when
// they fail) leaves every earlier result, and run.cjs can tell which test was running.
const fs = require('node:fs');

const show = (v) => {
  try {
    return require('node:util').inspect(v, { breakLength: Infinity, depth: 2 }).slice(0, 120);
  } catch {
    return '?';
  }
};

module.exports = function LineReporter(runner) {
  const out = process.env.WS_SUITE_REPORT;
  const write = (status, test, err) => {
    const line = { status, title: test.fullTitle() };
    if (err) {
      line.error = String(err.message || err).split('\n')[0].slice(0, 200);
      // assert's actual/expected say more than its first line does.
      if ('actual' in err) line.error += ` [actual ${show(err.actual)}, expected ${show(err.expected)}]`;
    }
    fs.appendFileSync(out, JSON.stringify(line) + '\n');
  };
  runner.on('start', () => {
    if (!process.env.WS_SUITE_LIST) return;
    const walk = (suite) => {
      for (const test of suite.tests) write('listed', test);
      suite.suites.forEach(walk);
    };
    walk(runner.suite);
  });
  runner.on('test', (test) => write('begin', test));
  runner.on('pass', (test) => write('pass', test));
  runner.on('fail', (test, err) => write('fail', test, err));
  runner.on('pending', (test) => write('pending', test));
};
