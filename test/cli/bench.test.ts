/**
 * `rfc6455 bench` against real servers: ours, ws's, and Python's `websockets` (pip, in a venv the
 * test makes). The figures are checked for sense, not speed: counts the servers confirm, ordered
 * percentiles, the JSON's shape, the kind of message sent; then churn, broadcast, --compare and
 * the one-line errors.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer as WsServer } from 'ws';
import { beforeAll, describe, expect, it } from 'vitest';
import { findCompiler } from '../../src/cli/bench/loadgen-c.js';
import { useCleanup } from '../helpers/cleanup.js';
import { freePort, startEchoServer, startHttpServer, startServer } from '../helpers/server.js';
import { pythonWebsockets, startPythonServer } from './python-websockets.js';
import { runCli } from './run-cli.js';

const defer = useCleanup();
const SHORT = ['--duration', '0.6', '--warmup', '0.2'];
const defaultKind = findCompiler() ? 'c' : 'js';
let python: ReturnType<typeof pythonWebsockets>;

beforeAll(() => {
  python = pythonWebsockets();
  if ('unavailable' in python) console.warn(`skipping the Python websockets bench tests: ${python.unavailable}`);
}, 300_000);

interface Figures {
  seconds: number;
  count: number;
  per_s: number;
  mb_per_s: number;
  latency_us: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  loadgen_cpu: number;
  lower_bound: boolean;
}
interface Output {
  schema: number;
  tool: string;
  mode: string;
  unit: string;
  generator: { kind: string; description: string };
  options: Record<string, unknown>;
  endpoints: Array<{ url: string; median: Figures; runs: Figures[]; ratio: number }>;
}

async function benchJson(args: string[]): Promise<Output> {
  const result = await runCli(['bench', ...args, ...SHORT, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Output;
}

/** Figures that make sense whatever the machine's speed. */
function expectSane(f: Figures): void {
  expect(f.count).toBeGreaterThan(0);
  expect(Math.abs(f.per_s - f.count / f.seconds) / f.per_s).toBeLessThan(0.001);
  expect(f.seconds).toBeGreaterThan(0.5);
  const l = f.latency_us;
  expect(l.p50).toBeGreaterThan(0);
  expect(l.p50).toBeLessThanOrEqual(l.p90);
  expect(l.p90).toBeLessThanOrEqual(l.p99);
  expect(l.p99).toBeLessThanOrEqual(l.max);
  expect(f.errors).toBe(0);
  expect(f.loadgen_cpu).toBeGreaterThan(0);
  expect(f.lower_bound).toBe(f.loadgen_cpu >= 0.9);
}

/** An echo server of ours that counts what it got, by kind. */
async function countingEcho() {
  const started = await startServer(defer);
  const seen = { text: 0, binary: 0, connections: 0 };
  started.server.on('connection', (ws) => {
    seen.connections++;
    ws.on('message', (data, isBinary) => {
      seen[isBinary ? 'binary' : 'text']++;
      ws.send(data, { binary: isBinary });
    });
  });
  return { ...started, seen };
}

describe('rfc6455 bench: echo', () => {
  it.each([defaultKind, 'js'])('the %s load generator against our echo server: figures the server confirms, stable JSON', async (kind) => {
    const { url, seen } = await countingEcho();
    const out = await benchJson([url, '--conns', '4', '--depth', '2', '--size', '100', '--generator', kind]);
    expect(Object.keys(out).sort()).toEqual(['endpoints', 'generator', 'mode', 'options', 'schema', 'tool', 'unit', 'version']);
    expect(Object.keys(out.options).sort()).toEqual(['binary', 'conns', 'deflate', 'depth', 'duration_s', 'parallel', 'reps', 'size', 'warmup_s']);
    expect(out).toMatchObject({ schema: 1, tool: 'rfc6455 bench', mode: 'echo', unit: 'messages/s', generator: { kind } });
    expect(out.endpoints).toHaveLength(1);
    const [endpoint] = out.endpoints;
    expect(Object.keys(endpoint).sort()).toEqual(['median', 'ratio', 'runs', 'url']);
    expect(Object.keys(endpoint.median).sort()).toEqual(['count', 'errors', 'latency_us', 'loadgen_cpu', 'lower_bound', 'mb_per_s', 'per_s', 'seconds']);
    expectSane(endpoint.median);
    expect(endpoint.median.mb_per_s).toBeCloseTo((endpoint.median.per_s * 100) / 1e6, 1);
    // Text by default; the server echoed at least every message measured (and the warm-up's).
    expect(seen.binary).toBe(0);
    expect(seen.text).toBeGreaterThanOrEqual(endpoint.median.count);
    expect(seen.connections).toBe(4 + 1); // the four, and the check before the run
  }, 30_000);

  it('--binary sends binary messages', async () => {
    const { url, seen } = await countingEcho();
    await benchJson([url, '--conns', '2', '--binary']);
    expect(seen.text).toBe(0);
    expect(seen.binary).toBeGreaterThan(0);
  }, 30_000);

  it('--deflate runs the JavaScript generator and negotiates permessage-deflate', async () => {
    const { url } = await startEchoServer(defer, { perMessageDeflate: true });
    const out = await benchJson([url, '--conns', '2', '--deflate', '--size', '2000']);
    expect(out.generator.kind).toBe('js');
    expect(out.generator.description).toMatch(/permessage-deflate/);
    expectSane(out.endpoints[0].median);
  }, 30_000);

  it('against ws\'s echo server', async () => {
    const wss = new WsServer({ port: 0, host: '127.0.0.1' });
    defer(() => new Promise((resolve) => wss.close(resolve)));
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    const out = await benchJson([`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, '--conns', '4']);
    expectSane(out.endpoints[0].median);
  }, 30_000);

  it('against Python\'s websockets echo server', async (ctx) => {
    if ('unavailable' in python) return ctx.skip();
    const url = await startPythonServer(defer, python.python, 'echo');
    const out = await benchJson([url, '--conns', '4', '--depth', '2']);
    expect(out.generator.kind).toBe(defaultKind);
    expectSane(out.endpoints[0].median);
  }, 30_000);

  it('prints a text report saying which load generator ran', async () => {
    const { url } = await startEchoServer(defer);
    const result = await runCli(['bench', url, '--conns', '2', ...SHORT]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(defaultKind === 'c' ? /^load generator: C \(.*loadgen-[0-9a-f]{16}/m : /^load generator: JavaScript/m);
    expect(result.stdout).toMatch(/^ {2}messages\/s +[\d,]+$/m);
    expect(result.stdout).toMatch(/^ {2}latency +p50 .* · p90 .* · p99 .* · max .* \(round trip\)$/m);
    expect(result.stdout).toMatch(/^ {2}generator +\d+% of a core/m);
  }, 30_000);
});

describe('rfc6455 bench: churn and broadcast', () => {
  it.each([defaultKind, 'js'])('churn with the %s generator: handshakes the server saw', async (kind) => {
    const { url, seen } = await countingEcho();
    const out = await benchJson([url, '--mode', 'churn', '--parallel', '4', '--generator', kind]);
    expect(out.unit).toBe('handshakes/s');
    expectSane(out.endpoints[0].median);
    expect(seen.connections).toBeGreaterThanOrEqual(out.endpoints[0].median.count);
  }, 30_000);

  it.each([defaultKind, 'js'])('broadcast with the %s generator: every delivery one the server sent', async (kind) => {
    const { server, url } = await startServer(defer);
    let received = 0;
    server.on('connection', (ws) =>
      ws.on('message', (data, isBinary) => {
        received++;
        for (const client of server.clients) client.send(data, { binary: isBinary });
      }),
    );
    const out = await benchJson([url, '--mode', 'broadcast', '--conns', '5', '--depth', '2', '--generator', kind]);
    expect(out.unit).toBe('deliveries/s');
    const f = out.endpoints[0].median;
    expectSane(f);
    // Four receivers: at least one whole fan-out measured, and never more deliveries than sent.
    expect(f.count).toBeGreaterThanOrEqual(4);
    expect(f.count).toBeLessThanOrEqual(received * 4);
  }, 30_000);

  it('broadcast against Python\'s websockets, which sends to the sender too', async (ctx) => {
    if ('unavailable' in python) return ctx.skip();
    const url = await startPythonServer(defer, python.python, 'broadcast');
    const out = await benchJson([url, '--mode', 'broadcast', '--conns', '5']);
    expectSane(out.endpoints[0].median);
  }, 30_000);
});

describe('rfc6455 bench --compare', () => {
  it('alternates the endpoints and gives ratios to the first', async () => {
    const a = await startEchoServer(defer);
    const b = await countingEcho();
    const result = await runCli(['bench', '--compare', a.url, b.url, '--reps', '2', '--conns', '2', ...SHORT]);
    expect(result.code, result.stderr).toBe(0);
    const order = [...result.stdout.matchAll(/^(ws:\/\/\S+) run (\d)\/2:/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(order).toEqual([`${a.url}/ 1`, `${b.url}/ 1`, `${a.url}/ 2`, `${b.url}/ 2`]);
    expect(result.stdout).toMatch(new RegExp(`^ {2}${a.url}/ +[\\d,]+ +1\\.00 `, 'm'));
    const out = await benchJson(['--compare', a.url, b.url, '--reps', '1', '--conns', '2']);
    expect(out.endpoints.map((e) => e.url)).toEqual([`${a.url}/`, `${b.url}/`]);
    expect(out.endpoints[0].ratio).toBe(1);
    expect(out.endpoints[1].ratio).toBeCloseTo(out.endpoints[1].median.per_s / out.endpoints[0].median.per_s, 6);
  }, 40_000);
});

describe('rfc6455 bench: one-line errors', () => {
  it('a server that refuses the handshake, with its status', async () => {
    const { port } = await startHttpServer(defer, (_request, response) => {
      response.writeHead(401);
      response.end();
    });
    const result = await runCli(['bench', `ws://127.0.0.1:${port}/`]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`rfc6455 bench: ws://127.0.0.1:${port}/ refused the WebSocket handshake: HTTP 401`);
  });

  it('an unreachable URL, and bad options', async () => {
    const port = await freePort();
    const result = await runCli(['bench', `ws://127.0.0.1:${port}/`]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^rfc6455 bench: ws:\/\/127\.0\.0\.1:\d+\/ is unreachable: connection refused/);
    const many = await runCli(['bench', `ws://127.0.0.1:${port}/`, '--conns', 'many']);
    expect(many.code).toBe(2);
    expect(many.stderr.trim()).toBe('rfc6455 bench: --conns: "many" must be a number from 1 to 100000');
    expect((await runCli(['bench', `ws://127.0.0.1:${port}/`, '--mode', 'flood'])).stderr.trim()).toBe('rfc6455 bench: --mode: "flood" must be echo, churn or broadcast');
    expect((await runCli(['bench', '--compare', `ws://127.0.0.1:${port}/`])).stderr.trim()).toBe('rfc6455 bench: --compare needs two URLs or more');
  });
});

describe('rfc6455 bench: a server that does not echo', () => {
  it('measures nothing, says so and exits 1', async () => {
    const { url } = await startServer(defer);
    const result = await runCli(['bench', url, '--conns', '2', ...SHORT, '--json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).endpoints[0].median.count).toBe(0);
    expect(result.stderr).toContain(`rfc6455 bench: ${url}/ gave nothing to measure: does it send every message back?`);
  }, 30_000);
});
