/**
 * The load generator written with rfc6455's own client: the same modes and figures as the C one,
 * for machines without a C compiler, and for what the C one does not speak (wss://, deflate, IPv6).
 * It runs in this process, so its CPU share is this process's: the CLI does nothing else meanwhile.
 */
import { performance } from 'node:perf_hooks';
import { connect } from '../../node/connect.js';
import type { WebSocket } from '../../node/websocket.js';
import type { BenchOptions } from './options.js';
import { Histogram, SATURATED, type Figures } from './result.js';

interface Window {
  measuring: boolean;
  finished: boolean;
  count: number;
  bytes: number;
  errors: number;
  histogram: Histogram;
}

function clientOptions(options: BenchOptions) {
  return { perMessageDeflate: options.deflate, rejectUnauthorized: !options.insecure, proxy: false as const, maxPayload: Math.max(options.size * 2, 1 << 20), handshakeTimeout: 30_000 };
}

function payloadOf(options: BenchOptions): Buffer | string {
  const bytes = Buffer.alloc(options.size);
  for (let i = 0; i < bytes.length; i++) bytes[i] = 97 + (i % 26);
  return options.binary ? bytes : bytes.toString('latin1');
}

/** Opens `n` connections, at most 64 handshakes at a time, as the C generator does with 256. */
async function openAll(url: URL, n: number, options: BenchOptions): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      sockets.push(await connect(url, clientOptions(options)));
    }
  };
  await Promise.all(Array.from({ length: Math.min(64, n) }, worker));
  return sockets;
}

function echo(sockets: WebSocket[], options: BenchOptions, w: Window): void {
  const payload = payloadOf(options);
  const binary = options.binary;
  for (const ws of sockets) {
    // Send times of the messages in flight: echoes come back in the order sent.
    const sent = new Float64Array(options.depth);
    let head = 0;
    let inFlight = 0;
    const send = () => {
      sent[(head + inFlight) % options.depth] = performance.now();
      inFlight++;
      ws.send(payload, { binary });
    };
    ws.on('message', () => {
      if (inFlight > 0) {
        if (w.measuring) w.histogram.record((performance.now() - sent[head]) * 1000);
        head = (head + 1) % options.depth;
        inFlight--;
      }
      if (w.measuring) {
        w.count++;
        w.bytes += options.size;
      }
      if (!w.finished) send();
    });
    for (let d = 0; d < options.depth; d++) send();
  }
}

function broadcast(sockets: WebSocket[], options: BenchOptions, w: Window): void {
  const payload = payloadOf(options);
  const [sender, ...receivers] = sockets;
  const sentAt = new Float64Array(options.depth);
  const arrived = new Uint32Array(options.depth);
  let rounds = 0;
  const send = () => {
    sentAt[rounds % options.depth] = performance.now();
    arrived[rounds % options.depth] = 0;
    rounds++;
    sender.send(payload, { binary: options.binary });
  };
  for (const ws of receivers) {
    let got = 0;
    ws.on('message', () => {
      const slot = got++ % options.depth;
      if (w.measuring) {
        w.count++;
        w.bytes += options.size;
      }
      if (++arrived[slot] === receivers.length) {
        if (w.measuring) w.histogram.record((performance.now() - sentAt[slot]) * 1000);
        if (!w.finished) send();
      }
    });
  }
  for (let d = 0; d < options.depth; d++) send();
}

function churn(url: URL, options: BenchOptions, w: Window): Promise<void>[] {
  const loop = async () => {
    while (!w.finished) {
      const started = performance.now();
      try {
        const ws = await connect(url, clientOptions(options));
        if (w.measuring) {
          w.histogram.record((performance.now() - started) * 1000);
          w.count++;
        }
        ws.terminate();
      } catch {
        if (w.measuring) w.errors++;
        // A refusing server must not turn this into a busy loop.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  return Array.from({ length: options.parallel }, loop);
}

export async function runJs(url: URL, options: BenchOptions, onProgress: (seconds: number, count: number) => void): Promise<Figures> {
  const w: Window = { measuring: false, finished: false, count: 0, bytes: 0, errors: 0, histogram: new Histogram() };
  let sockets: WebSocket[] = [];
  let loops: Promise<void>[] = [];
  if (options.mode === 'churn') loops = churn(url, options, w);
  else {
    sockets = await openAll(url, options.conns, options);
    for (const ws of sockets) {
      ws.on('error', () => w.measuring && w.errors++);
      ws.on('close', () => !w.finished && w.errors++);
    }
    (options.mode === 'echo' ? echo : broadcast)(sockets, options, w);
  }
  await new Promise((r) => setTimeout(r, options.warmup * 1000));
  w.measuring = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const ticker = setInterval(() => onProgress((performance.now() - t0) / 1000, w.count), 1000);
  await new Promise((r) => setTimeout(r, options.duration * 1000));
  clearInterval(ticker);
  w.measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  w.finished = true;
  for (const ws of sockets) ws.terminate();
  await Promise.all(loops);
  const loadgen_cpu = (cpu.user + cpu.system) / 1e6 / seconds;
  const h = w.histogram;
  return {
    seconds,
    count: w.count,
    per_s: w.count / seconds,
    mb_per_s: w.bytes / seconds / 1e6,
    latency_us: { p50: h.percentile(0.5), p90: h.percentile(0.9), p99: h.percentile(0.99), max: h.max },
    errors: w.errors,
    loadgen_cpu,
    lower_bound: loadgen_cpu >= SATURATED,
  };
}
