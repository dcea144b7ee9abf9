/** Which load generator runs, and why: the C one whenever it can, and the output says which ran. */
import { lookup } from 'node:dns/promises';
import { CliError } from '../probe.js';
import { compiledLoadgen, findCompiler, runC } from './loadgen-c.js';
import { runJs } from './loadgen-js.js';
import type { BenchOptions } from './options.js';
import type { Figures } from './result.js';

export interface Generator {
  kind: 'c' | 'js';
  /** One line for the report: which generator and why. */
  description: string;
  run(url: URL, options: BenchOptions, onProgress: (seconds: number, count: number) => void): Promise<Figures>;
}

async function ipv4(url: URL): Promise<string | null> {
  try {
    return (await lookup(url.hostname.replace(/^\[|\]$/g, ''), { family: 4 })).address;
  } catch {
    return null;
  }
}

function javascript(why: string): Generator {
  return { kind: 'js', description: `JavaScript, rfc6455's own client in this process (${why})`, run: runJs };
}

export async function chooseGenerator(options: BenchOptions): Promise<Generator> {
  if (options.generator === 'js') return javascript('--generator js');
  const addresses = new Map<URL, string>();
  let obstacle: string | null = null;
  if (options.deflate) obstacle = 'the C one does not speak permessage-deflate';
  else if (options.urls.some((url) => url.protocol === 'wss:')) obstacle = 'the C one does not speak TLS (wss://)';
  else {
    for (const url of options.urls) {
      const address = await ipv4(url);
      if (!address) {
        obstacle = `the C one dials IPv4 only and ${url.hostname} has no IPv4 address`;
        break;
      }
      addresses.set(url, address);
    }
  }
  const compiler = obstacle ? null : findCompiler();
  if (!obstacle && !compiler) obstacle = 'no C compiler found: install cc/gcc/clang or set $CC for the C one';
  if (obstacle) {
    if (options.generator === 'c') throw new CliError(`--generator c: ${obstacle}`);
    return javascript(obstacle);
  }
  const { path, compiled } = compiledLoadgen(compiler!);
  return {
    kind: 'c',
    description: `C (${path}${compiled ? `, compiled just now with ${compiler}` : ', compiled earlier'})`,
    run: (url, opts, onProgress) => runC(path, { address: addresses.get(url)!, url }, opts, onProgress),
  };
}
