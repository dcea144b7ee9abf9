/**
 * The published package as a user gets it: built, packed with `npm pack`, unpacked into a temp
 * project's node_modules, then required and imported on the current Node, and type-checked from
 * a CommonJS and an ESM TypeScript project (test/types/) with `module: nodenext`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
let project = '';
let tarball = '';

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(() => {
  run('npm', ['run', 'build'], root);
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'rfc6455-package-'));
  // --ignore-scripts: prepack would build again. The tarball holds exactly the package's `files`.
  tarball = run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', project], root).trim().split('\n').pop()!;
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

/**
 * The tool commands as a person runs them: `npm install` of the tarball into a fresh project (no
 * registry needed, the package has no dependencies), then `npx rfc6455 conformance|bench` there,
 * against an echo server started from that install. The harness and the load generator's C source
 * must be in the package for this to work.
 */
describe('npx rfc6455 from a project that installed the packed tarball', () => {
  let fresh = '';
  let server: ChildProcess;
  let url = '';

  beforeAll(async () => {
    fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'rfc6455-npx-'));
    fs.writeFileSync(path.join(fresh, 'package.json'), '{ "name": "tries-rfc6455", "private": true }\n');
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(project, tarball)], fresh);
    // The bin link npx would run, started directly: stopping npx would leave its child running.
    server = spawn(path.join(fresh, 'node_modules/.bin/rfc6455'), ['echo', '--port', '0'], { cwd: fresh, stdio: ['ignore', 'pipe', 'inherit'] });
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('npx rfc6455 echo did not start')), 30_000);
      server.stdout!.on('data', (chunk: Buffer) => {
        const found = /listening on (ws:\/\/\S+)/.exec(chunk.toString());
        if (found) {
          clearTimeout(timer);
          resolve(found[1]);
        }
      });
    });
  }, 120_000);

  afterAll(() => {
    server?.kill();
    fs.rmSync(fresh, { recursive: true, force: true });
  });

  it('ships the harness and the C source, and nothing from autobahn/ or the rest of bench/', () => {
    const files = run('find', ['.', '-type', 'f'], path.join(fresh, 'node_modules/rfc6455')).split('\n');
    expect(files).toEqual(expect.arrayContaining(['./dist/cli/conformance/suite.js', './dist/cli/bench/loadgen-c.js', './bench/echo/loadgen.c']));
    expect(files.filter((file) => file.startsWith('./autobahn') || (file.startsWith('./bench/') && !/^\.\/bench\/(echo\/loadgen\.c|results\/.*\.svg)$/.test(file)))).toEqual([]);
  });

  it('npx rfc6455 bench', () => {
    const out = JSON.parse(run('npx', ['rfc6455', 'bench', url, '--conns', '2', '--duration', '0.5', '--warmup', '0.1', '--json'], fresh));
    expect(out.tool).toBe('rfc6455 bench');
    expect(out.endpoints[0].median.count).toBeGreaterThan(0);
    expect(out.endpoints[0].median.errors).toBe(0);
  }, 60_000);

  it('npx rfc6455 conformance', (ctx) => {
    let output: string;
    try {
      output = run('npx', ['rfc6455', 'conformance', url, '--cases', '1.1.1,1.1.2'], fresh);
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr);
      // A machine with neither Python 2.7 nor Docker: the one-line answer is the expected one.
      if (process.env.CI !== 'true' && /is not installed and cannot be/.test(stderr)) return ctx.skip();
      throw new Error(stderr);
    }
    expect(output).toMatch(/\| 1\.\* framing \| 2 \| 0 \| 0 \| 0 \| 0 \|/);
    expect(output).toContain('conformance: every case OK');
  }, 300_000);
});
