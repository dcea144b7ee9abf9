/**
 * Hostile streams against the memory bound of DESIGN.md ("Flow control and limits"): a peer that
 * sends only well-formed, masked frames must not make a server Connection hold much more than
 * maxPayload plus one read, whatever it sends — millions of empty or 1-byte continuation frames,
 * reads that are one data byte and 64 KiB of pings, headers that declare far more than they send.
 *
 * Each scenario runs in its own child with a 128 MiB old space (fixtures/hostile-stream.ts), which
 * measures heapUsed + arrayBuffers after GC and reports JSON. A child that dies (out of memory)
 * fails the test as surely as one that reports too much held, and cannot take the runner with it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Result } from './fixtures/hostile-stream.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/hostile-stream.ts', import.meta.url));
const CHILD_TIMEOUT = 55_000;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runScenario(name: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=128', '--expose-gc', '--import', 'tsx', FIXTURE, name], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // The fixture stops itself well before this (its own time limits); this only guards the runner.
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const mib = (n: number) =>
  Math.abs(n) < 1024 ? `${n} B` : Math.abs(n) < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;

function describeResult(r: Result): string {
  return (
    `${r.scenario}: peak held ${mib(r.peakHeld)}, final ${mib(r.finalHeld)}, bound ${mib(r.bound)}; ` +
    `fed ${mib(r.fedBytes)} of ${mib(r.plannedBytes)} (${r.chunksFed} reads, ${r.connections} connection(s), ` +
    `maxPayload ${mib(r.maxPayload)}); codes ${JSON.stringify(r.codes)}; ${r.ms} ms` +
    (r.aborted ? '; stopped early, over the bound' : '') +
    (r.stalled ? `; ${r.stalled} paused for good` : '') +
    (r.note ? `; ${r.note}` : '')
  );
}

async function expectBounded(name: string): Promise<void> {
  const outcome = await runScenario(name);
  // A dead child is the worst outcome: say how it died (V8 prints "Reached heap limit" on OOM).
  const death = `child for ${name} exited with ${outcome.code ?? outcome.signal}:\n${outcome.stderr.slice(-2000)}`;
  expect(outcome.signal, death).toBeNull();
  expect(outcome.code, death).toBe(0);
  const line = outcome.stdout.trim().split('\n').pop() ?? '';
  const result = JSON.parse(line) as Result;
  console.log(describeResult(result));
  expect(result.problem, describeResult(result)).toBeNull();
}

describe('a server Connection fed hostile streams holds about maxPayload + one read (128 MiB heap)', () => {
  const timeout = CHILD_TIMEOUT + 5_000;

  it('8 million empty continuation frames after a non-final first frame', () => expectBounded('empty-continuations'), timeout);

  it('2 million 1-byte continuation frames: bounded until 1009 at maxPayload', () => expectBounded('one-byte-continuations'), timeout);

  it('1,500 reads of one 1-byte continuation frame and 64 KiB of pings', () => expectBounded('pings-fill-each-read'), timeout);

  it('200 connections each declaring 50 MiB (maxPayload 64 MiB) and sending 3 bytes', () => expectBounded('declared-50MiB-x200'), timeout);

  it('200 connections each declaring maxPayload − 1 and sending 3 bytes', () => expectBounded('declared-maxPayload-x200'), timeout);

  it('generated streams: tiny continuations among control frames, any read size, a lying tail (fast-check)', () => expectBounded('generated'), timeout);

  // These pass today; they show the bound has room for legitimate holding and measuring noise.
  it('control: 1,500 reads of pings only', () => expectBounded('control-pings-only'), timeout);

  it('control: an unfinished message just under maxPayload', () => expectBounded('control-large-message'), timeout);
});
