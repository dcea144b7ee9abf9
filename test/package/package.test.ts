/**
 * The published package as a user gets it: built, packed with `npm pack`, unpacked into a temp
 * project's node_modules, then required and imported on the current Node, and type-checked from
 * a CommonJS and an ESM TypeScript project (test/types/) with `module: nodenext`.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
let project = '';

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(() => {
  run('npm', ['run', 'build'], root);
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'rfc6455-package-'));
  // --ignore-scripts: prepack would build again. The tarball holds exactly the package's `files`.
  const tarball = run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', project], root).trim().split('\n').pop()!;
  const installed = path.join(project, 'node_modules/rfc6455');
  fs.mkdirSync(installed, { recursive: true });
  run('tar', ['-xzf', path.join(project, tarball), '-C', installed, '--strip-components=1'], project);
  fs.symlinkSync(path.join(root, 'node_modules/@types'), path.join(project, 'node_modules/@types'));
  for (const kind of ['cjs', 'esm']) fs.cpSync(path.join(root, 'test/types', kind), path.join(project, kind), { recursive: true });
}, 120_000);

const cjsScript = `
const WebSocket = require('rfc6455');
const { WebSocketServer } = require('rfc6455');
const protocol = require('rfc6455/protocol');
const redis = require('rfc6455/redis');
const wss = new WebSocket.Server({ port: 0, host: '127.0.0.1' }, () => {
  const ws = new WebSocket('ws://127.0.0.1:' + wss.address().port);
  ws.on('open', () => ws.send('over require()'));
  ws.on('message', (data) => {
    console.log(JSON.stringify({
      echo: data.toString(),
      isClass: typeof WebSocket === 'function' && WebSocket.name === 'WebSocket',
      statics: WebSocket.WebSocket === WebSocket && WebSocket.WebSocketServer === WebSocketServer && WebSocket.Server === WebSocketServer,
      protocol: typeof protocol.Connection, redis: typeof redis.RedisBroker,
    }));
    ws.close();
    wss.close();
  });
});
wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data.toString())));
`;

const esmScript = `
import WebSocket, { WebSocketServer } from 'rfc6455';
import { Connection } from 'rfc6455/protocol';
const cjs = (await import('node:module')).createRequire(import.meta.url)('rfc6455');
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
await new Promise((resolve) => wss.once('listening', resolve));
wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data.toString())));
const ws = new WebSocket('ws://127.0.0.1:' + wss.address().port);
ws.on('open', () => ws.send('over import'));
const [data] = await new Promise((resolve) => ws.once('message', (...args) => resolve(args)));
console.log(JSON.stringify({
  echo: data.toString(),
  statics: WebSocket.WebSocketServer === WebSocketServer && WebSocket.Server === WebSocketServer,
  sameClass: cjs === WebSocket,
  protocol: typeof Connection,
}));
ws.close();
await wss.close();
`;

describe('the packed package', () => {
  it('require() returns the WebSocket class, with the API as statics, and it talks over loopback', () => {
    fs.writeFileSync(path.join(project, 'use.cjs'), cjsScript);
    const out = JSON.parse(run(process.execPath, ['use.cjs'], project));
    expect(out).toEqual({ echo: 'over require()', isClass: true, statics: true, protocol: 'function', redis: 'function' });
  });

  it('import gives the same class as the default export, and named exports', () => {
    fs.writeFileSync(path.join(project, 'use.mjs'), esmScript);
    const out = JSON.parse(run(process.execPath, ['use.mjs'], project));
    expect(out).toEqual({ echo: 'over import', statics: true, sameClass: true, protocol: 'function' });
  });

  it.each(['cjs', 'esm'])('type-checks ws-style user code in a %s TypeScript project', (kind) => {
    let output = '';
    try {
      run(process.execPath, [tsc, '-p', path.join(project, kind)], project);
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    expect(output).toBe('');
  }, 60_000);

  it('ships no internal members in its declarations, no source maps, and the README images', () => {
    const files = run('find', ['.', '-type', 'f'], path.join(project, 'node_modules/rfc6455')).split('\n');
    expect(files.filter((file) => file.endsWith('.map'))).toEqual([]);
    expect(files).toEqual(expect.arrayContaining(['./LICENSE', './dist/index.d.cts', './docs/chat.png', './bench/results/micro.svg']));
    const readme = fs.readFileSync(path.join(project, 'node_modules/rfc6455/README.md'), 'utf8');
    for (const [, target] of readme.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) {
      if (!/^https?:/.test(target)) expect(files).toContain(`./${target}`);
    }
    const declarations = fs.readFileSync(path.join(project, 'node_modules/rfc6455/dist/node/websocket.d.ts'), 'utf8');
    expect(declarations).not.toMatch(/closeHook|startReading|@internal/);
  });

  it('declares for CommonJS every name the ESM entry exports', () => {
    const esm = fs.readFileSync(path.join(root, 'src/index.ts'), 'utf8');
    const cjs = fs.readFileSync(path.join(root, 'src/index.d.cts'), 'utf8');
    const split = (list: string) => list.split(',').map((item) => item.trim().replace(/^type /, '')).filter(Boolean);
    const names = [...esm.matchAll(/^export (?:type )?\{([^}]*)\} from/gm)].flatMap((match) => split(match[1]));
    const statics = esm.match(/Object\.assign\(WebSocket, \{([^}]*)\}\)/)![1];
    const values = new Set(split(statics).map((item) => item.split(':')[0]));
    expect(names.length).toBeGreaterThan(40);
    for (const name of names) {
      // Classes and values are statics of the class (set in Object.assign), types are in the namespace.
      const declared = new RegExp(`type ${name}\\b`).test(cjs) || values.has(name);
      expect(declared, name).toBe(true);
    }
  });
});
