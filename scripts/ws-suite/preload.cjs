'use strict';
// Loaded by mocha (--require) before ws's test files. It redirects the two modules that are ws's
// public API — index.js (require('..')) and lib/stream.js (createWebSocketStream) — to our shims.
// Everything else under lib/ (receiver, sender, constants, event-target…) stays ws's own: the tests
// use those as raw peers and helpers, not as the code under test.
const Module = require('node:module');
const path = require('node:path');

const wsRoot = path.resolve(process.env.WS_SUITE_ROOT || process.cwd());
const replaced = new Map([
  [path.join(wsRoot, 'index.js'), path.join(__dirname, 'ws-shim.cjs')],
  [path.join(wsRoot, 'lib', 'stream.js'), path.join(__dirname, 'ws-stream-shim.cjs')],
]);

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const file = resolve.call(this, request, parent, ...rest);
  if (!replaced.has(file)) return file;
  // Keep the real lib/stream for ws's own index.js, should anything load it.
  if (parent && parent.filename === path.join(wsRoot, 'index.js')) return file;
  return replaced.get(file);
};
