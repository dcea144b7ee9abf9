/**
 * Every JavaScript and TypeScript block of README.md, run as written, each as a program of its own
 * against the built package — so the README cannot show code that does not work.
 *
 * How a block is run (README "Tests" says the same for whoever adds a block):
 * - ```js / ```mjs blocks are written to an .mjs file and run with `node`; a ```js block that uses
 *   `require()` and no `import` (and ```cjs blocks) to a .cjs file; ```ts blocks to an .mts file,
 *   run with `node --import tsx`. Every block is a complete program: imports included, and it ends
 *   by itself (servers closed, clients closed); one that is still running after BLOCK_TIMEOUT fails.
 * - `import 'rfc6455'` (and 'rfc6455/protocol', 'rfc6455/redis') resolves as in a user's project:
 *   the package is built (tsconfig.build.json) into a temp project's node_modules/rfc6455, beside
 *   its package.json, so its `exports` map decides. Other imports (`redis`, `ioredis`) resolve
 *   from this repository's node_modules.
 * - Ports come from the environment, which the blocks read with a default for readers who copy
 *   them (`process.env.PORT ?? 8080`): PORT is a free port for a block's own server; WS_URL is an
 *   echo server this test runs (rfc6455's, text echoed as text), for blocks that are only clients;
 *   REDIS_URL, for a block that names it, is a redis-server started here on a free port;
 *   PROXY_URL, for a block that names it, a tinyproxy that lets CONNECT reach PORT. A block that
 *   names `key.pem` or `cert.pem` finds a self-signed certificate for localhost in its directory.
 * - A block passes when it exits with status 0. If the README follows it with a paragraph ending in
 *   "prints:" and a ```text block, its stdout must be that text.
 * - The TypeScript blocks also type-check (strict, `module: nodenext`) against the package's own
 *   declarations, as a user's editor would check them.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from '../../src/index.js';
import { useCertificate } from '../helpers/certificate.js';
import { freePort } from '../helpers/server.js';
import { hasTinyproxy, startTinyproxy, type Tinyproxy } from '../helpers/tinyproxy.js';
import { cleanup as stopRedis, startRedis, type RedisProcess } from '../pubsub/helpers.js';
import { headingAnchors, readmeBlocks, type CodeBlock } from './markdown.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BLOCK_TIMEOUT = 20_000;

const RUNNABLE: Record<string, 'js' | 'cjs' | 'ts'> = { js: 'js', javascript: 'js', mjs: 'js', cjs: 'cjs', ts: 'ts', typescript: 'ts', mts: 'ts' };
const blocks = readmeBlocks(path.join(root, 'README.md')).filter((block) => block.lang in RUNNABLE);

function fileFor(block: CodeBlock): string {
  const kind = RUNNABLE[block.lang];
  if (kind === 'ts') return 'block.mts';
  const commonjs = kind === 'cjs' || (/\brequire\(/.test(block.code) && !/^\s*(import|export)\b/m.test(block.code));
  return commonjs ? 'block.cjs' : 'block.mjs';
}

const certificate = useCertificate();
let project = '';
let echo: WebSocketServer;
let echoUrl = '';
let redis: RedisProcess | undefined;
const proxies: Array<() => unknown> = [];

beforeAll(async () => {
  fs.mkdirSync(path.join(root, '.scratch'), { recursive: true });
  project = fs.mkdtempSync(path.join(root, '.scratch/readme-'));
  // A package.json of its own, so that 'rfc6455' is not this repository's self-reference but the
  // copy in node_modules, with the published package.json beside the build.
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'readme-blocks', private: true }));
  const installed = path.join(project, 'node_modules/rfc6455');
  fs.mkdirSync(installed, { recursive: true });
  fs.copyFileSync(path.join(root, 'package.json'), path.join(installed, 'package.json'));
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', path.join(installed, 'dist')], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    throw new Error(`The package does not build, so no README block can run:\n${(error as { stdout?: string }).stdout ?? error}`);
  }
  fs.copyFileSync(path.join(root, 'src/index.d.cts'), path.join(installed, 'dist/index.d.cts'));

  echo = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  echo.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(isBinary ? data : data.toString(), { binary: isBinary })));
  await new Promise<void>((resolve) => echo.once('listening', () => resolve()));
  echoUrl = `ws://127.0.0.1:${(echo.address() as { port: number }).port}`;
}, 60_000);

afterAll(async () => {
  await echo?.close({ timeout: 100 });
  await stopRedis();
  for (const stop of proxies.reverse()) await stop();
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

async function environment(block: CodeBlock, dir: string): Promise<Record<string, string>> {
  const port = await freePort();
  const env: Record<string, string> = { PORT: String(port), WS_URL: echoUrl };
  if (block.code.includes('REDIS_URL')) {
    redis ??= await startRedis();
    env.REDIS_URL = redis.url;
  }
  if (block.code.includes('PROXY_URL')) {
    if (!hasTinyproxy) throw new Error('This README block needs tinyproxy: apt-get install -y tinyproxy (.ci/run installs it before npm test).');
    const proxy: Tinyproxy = await startTinyproxy((stop) => void proxies.push(stop), { connectPorts: [port] });
    env.PROXY_URL = proxy.url;
  }
  if (/\b(key|cert)\.pem\b/.test(block.code)) {
    fs.writeFileSync(path.join(dir, 'key.pem'), certificate.key);
    fs.writeFileSync(path.join(dir, 'cert.pem'), certificate.cert);
  }
  return env;
}

interface Run {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function run(file: string, dir: string, env: Record<string, string>): Promise<Run> {
  const args = file.endsWith('.mts') ? ['--import', 'tsx', file] : [file];
  // The blocks' own environment: no proxy settings of this machine, and no NODE_OPTIONS of vitest's.
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/proxy|^NODE_OPTIONS$|^VITEST/i.test(name)));
  const child = spawn(process.execPath, args, { cwd: dir, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, BLOCK_TIMEOUT);
    child.once('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, timedOut });
    });
  });
}

describe('README.md code blocks', () => {
  it('TypeScript blocks type-check against the built declarations', () => {
    const dir = path.join(project, 'types');
    fs.mkdirSync(dir, { recursive: true });
    const ts = blocks.filter((block) => RUNNABLE[block.lang] === 'ts');
    for (const block of ts) fs.writeFileSync(path.join(dir, `line-${block.line}.mts`), block.code);
    const compilerOptions = { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] };
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.mts'] }));
    let output = '';
    try {
      execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout || error);
    }
    // Errors name the file, line-N.mts: N is the block's line in README.md.
    expect(output).toBe('');
  }, 60_000);

  it('has runnable blocks to run', () => {
    expect(blocks.length).toBeGreaterThan(10);
  });

  it('links within the README (the contents, the cross references) lead to headings that exist', () => {
    const markdown = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const anchors = headingAnchors(markdown);
    const links = [...markdown.matchAll(/\]\(#([^)\s]+)\)/g)].map((match) => match[1]);
    expect(links.length).toBeGreaterThan(20);
    expect(links.filter((link) => !anchors.has(link))).toEqual([]);
  });

  it('lists every section (## heading) in its contents', () => {
    const markdown = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const contents = markdown.slice(markdown.indexOf('## Contents'), markdown.indexOf('\n## ', markdown.indexOf('## Contents') + 1));
    const sections = [...headingAnchors(markdown.split('\n').filter((line) => /^## /.test(line)).join('\n'))].filter((anchor) => anchor !== 'contents');
    expect(sections.length).toBeGreaterThan(10);
    expect(sections.filter((anchor) => !contents.includes(`](#${anchor})`))).toEqual([]);
  });

  it('names only npm scripts that package.json has', () => {
    const markdown = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const { scripts } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const named = [...markdown.matchAll(/\bnpm run ([\w:-]+)/g)].map((match) => match[1]);
    expect(named.length).toBeGreaterThan(3);
    expect(named.filter((name) => !(name in scripts))).toEqual([]);
  });

  it('links and images to files of the repository name files that exist', () => {
    const markdown = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const targets = [...markdown.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((match) => match[1]).filter((target) => !/^[a-z]+:/.test(target));
    expect(targets.length).toBeGreaterThan(5);
    expect(targets.filter((target) => !fs.existsSync(path.join(root, target)))).toEqual([]);
  });

  it.each(blocks.map((block) => [`line ${block.line} (${block.heading})`, block] as const))('%s runs as written', async (_, block) => {
    const dir = path.join(project, `line-${block.line}`);
    fs.mkdirSync(dir, { recursive: true });
    const file = fileFor(block);
    fs.writeFileSync(path.join(dir, file), block.code);
    const result = await run(file, dir, await environment(block, dir));
    const report = `README.md line ${block.line}: ${result.timedOut ? `still running after ${BLOCK_TIMEOUT} ms` : `exit ${result.status ?? result.signal}`}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
    expect(result.timedOut, report).toBe(false);
    expect(result.status, report).toBe(0);
    if (block.prints !== undefined) expect(result.stdout.trimEnd(), report).toBe(block.prints.trimEnd());
  }, BLOCK_TIMEOUT + 10_000);
});
