// The echo client the suite's fuzzing server tests: asks for the case count, runs every case as
// an echo peer, then asks the suite to write its reports. One plain progress line per case, which
// run.ts reads (and which is readable on its own when this runs by hand).
import { connect } from '../src/index.js';

const base = process.argv[2] ?? 'ws://127.0.0.1:9002';
const agent = process.env.RFC6455_CONFORMANCE_AGENT ?? 'rfc6455';
type Socket = Awaited<ReturnType<typeof connect>>;

/**
 * A case the suite has not closed by then is stuck on our side; it is cut so the remaining cases
 * still run, and the suite reports the cut one as it sees it. The slowest cases (9.*) take seconds.
 */
const CASE_TIMEOUT_MS = 120_000;

/**
 * Opens a connection and resolves once it closes. Never rejects: a case whose handshake fails is
 * the suite's to judge, and the run must go on to the next one.
 */
function run(path: string, onMessage?: (ws: Socket, data: Buffer, isBinary: boolean) => void): Promise<string> {
  return new Promise((resolve) => {
    let last = '';
    connect(base + path, { maxPayload: 64 * 1024 * 1024 }).then(
      (ws) => {
        const timer = setTimeout(() => {
          console.error(`${path}: no close after ${CASE_TIMEOUT_MS / 1000}s; terminating`);
          ws.terminate();
        }, CASE_TIMEOUT_MS);
        ws.on('message', (data, isBinary) => {
          last = isBinary ? '' : data.toString();
          onMessage?.(ws, data, isBinary);
        });
        ws.on('close', () => {
          clearTimeout(timer);
          resolve(last);
        });
      },
      (error: Error) => {
        console.error(`${path}: ${error.message}`);
        resolve(last);
      },
    );
  });
}

const count = Number(await run('/getCaseCount'));
if (!Number.isInteger(count) || count <= 0) {
  console.error(`could not read the case count from ${base}/getCaseCount`);
  process.exit(1);
}
const started = Date.now();
for (let n = 1; n <= count; n++) {
  console.log(`case ${n} of ${count}, elapsed ${((Date.now() - started) / 1000).toFixed(0)}s`);
  await run(`/runCase?case=${n}&agent=${agent}`, (ws, data, isBinary) => ws.send(data, { binary: isBinary }));
}
await run(`/updateReports?agent=${agent}`);
console.log(`all ${count} cases run in ${((Date.now() - started) / 1000).toFixed(0)}s; reports updated`);
