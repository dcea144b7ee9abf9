// The echo client the suite's fuzzing server tests: asks for the case count, runs every case as
// an echo peer, then asks the suite to write its reports.
import { connect } from '../src/index.js';
import { progressPrinter } from './progress.js';

const base = process.argv[2] ?? 'ws://127.0.0.1:9002';
const agent = 'rfc6455';

/** Opens a connection and resolves once it closes (never rejects: a failed case is the suite's to judge). */
function run(path: string, onMessage?: (ws: Awaited<ReturnType<typeof connect>>, data: Buffer, isBinary: boolean) => void): Promise<string> {
  return new Promise((resolve) => {
    let last = '';
    connect(base + path, { maxPayload: 64 * 1024 * 1024 }).then(
      (ws) => {
        ws.on('message', (data, isBinary) => {
          last = isBinary ? '' : data.toString();
          onMessage?.(ws, data, isBinary);
        });
        ws.on('close', () => resolve(last));
      },
      () => resolve(last),
    );
  });
}

const count = Number(await run('/getCaseCount'));
if (!Number.isInteger(count) || count <= 0) {
  console.error(`could not read the case count from ${base}`);
  process.exit(1);
}
const progress = progressPrinter('client');
for (let n = 1; n <= count; n++) {
  progress(n, count);
  await run(`/runCase?case=${n}&agent=${agent}`, (ws, data, isBinary) => ws.send(data, { binary: isBinary }));
}
if (process.stdout.isTTY) process.stdout.write('\n');
await run(`/updateReports?agent=${agent}`);
