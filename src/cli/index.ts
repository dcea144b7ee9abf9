/**
 * The tool commands, `conformance` and `bench`: each runs to an exit status, and every failure a
 * person can act on (bad input, an unreachable or refusing server, a suite that cannot be
 * installed) ends as one line on stderr, with no stack.
 */
import { bench } from './bench/index.js';
import { conformance, stopOnSignals } from './conformance/index.js';
import { stopAll } from './conformance/processes.js';
import { progressDone } from './conformance/progress.js';
import { UsageError } from './probe.js';

export async function runSubcommand(command: 'conformance' | 'bench', args: string[]): Promise<void> {
  stopOnSignals();
  let code: number;
  try {
    code = command === 'conformance' ? await conformance(args) : await bench(args);
  } catch (error) {
    progressDone();
    const message = error instanceof Error ? error.message : String(error);
    console.error(`rfc6455 ${command}: ${message}`);
    code = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
  }
  stopAll();
  process.exit(code);
}
