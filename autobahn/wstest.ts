/**
 * Finds the Autobahn|Testsuite, in this order: `wstest` on PATH; a local install under
 * autobahn/.wstest/ (made here once, with Python 2.7 from PyPI, the way the suite's own Dockerfile
 * pins it); the crossbario/autobahn-testsuite Docker image where a Docker engine answers.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const here = new URL('.', import.meta.url).pathname;
const installDir = join(here, '.wstest');
const venv = join(installDir, 'venv');
const marker = join(installDir, 'installed');

export interface Suite {
  /** How it was found, for the log. */
  source: string;
  /** argv prefix that runs wstest; configs and reports are mounted at `root` for Docker. */
  command: string[];
  /** The path under which the suite sees the autobahn/ folder. */
  root: string;
  /** A Python that can import the suite, to count cases; null under Docker. */
  python: string | null;
}

function onPath(command: string): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

function python27(): string | null {
  const candidates = [
    process.env.PYENV_ROOT && join(process.env.PYENV_ROOT, 'versions/2.7.18/bin/python'),
    join(homedir(), '.pyenv/versions/2.7.18/bin/python'),
    onPath('python2.7'),
    onPath('python2'),
  ];
  for (const candidate of candidates) {
    if (!candidate || !existsSync(candidate)) continue;
    const version = spawnSync(candidate, ['-c', 'import sys; print(sys.version_info[:2] == (2, 7))'], { encoding: 'utf8' });
    if (version.stdout.trim() === 'True') return candidate;
  }
  return null;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  execFileSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
}

/** Installs the suite into autobahn/.wstest/venv with the versions its Dockerfile uses. */
function install(python: string): void {
  console.log(`installing the Autobahn|Testsuite into ${venv} (once; about a minute)…`);
  mkdirSync(installDir, { recursive: true });
  // virtualenv for Python 2.7 goes into a folder of its own: the system's Python stays untouched.
  const tool = join(installDir, 'virtualenv');
  run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', tool, 'virtualenv<20.22']);
  run(python, ['-m', 'virtualenv', '--quiet', venv], { ...process.env, PYTHONPATH: tool });
  const pip = join(venv, 'bin/pip');
  const quiet = ['--quiet', '--disable-pip-version-check'];
  run(pip, ['install', ...quiet, 'pip==20.3.4', 'setuptools==44.0.0', 'wheel==0.36.2']);
  run(pip, ['install', ...quiet, 'incremental==16.10.1', 'pyOpenSSL==19.1.0', 'cryptography==3.3.2']);
  run(pip, ['install', ...quiet, '--no-build-isolation', 'Twisted==19.10.0']);
  run(pip, ['install', ...quiet, '--no-build-isolation', 'autobahntestsuite==25.10.1']);
  writeFileSync(marker, new Date().toISOString() + '\n');
}

function dockerAnswers(): boolean {
  return onPath('docker') !== null && spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
}

export function findSuite(): Suite {
  const global = onPath('wstest');
  if (global) return { source: `wstest on PATH (${global})`, command: [global], root: here, python: null };
  const local = join(venv, 'bin/wstest');
  if (existsSync(marker) && existsSync(local)) {
    return { source: `local install (${venv})`, command: [local], root: here, python: join(venv, 'bin/python') };
  }
  const python = python27();
  if (python) {
    install(python);
    return { source: `local install (${venv})`, command: [local], root: here, python: join(venv, 'bin/python') };
  }
  if (dockerAnswers()) {
    return {
      source: 'Docker image crossbario/autobahn-testsuite',
      command: ['docker', 'run', '--rm', '--net=host', '-v', `${here}:/autobahn`, 'crossbario/autobahn-testsuite', 'wstest'],
      root: '/autobahn/',
      python: null,
    };
  }
  throw new Error(
    'The Autobahn|Testsuite needs one of: `wstest` on PATH, Python 2.7 (python2.7 or pyenv 2.7.18) to install it, or a running Docker engine.',
  );
}

/** How many cases a config selects, from the suite's own case list (null if it cannot be asked). */
export function countCases(suite: Suite, config: string): number | null {
  if (!suite.python) return null;
  const script =
    'import json,sys\n' +
    'from autobahntestsuite.case import Cases, CaseCategories, CaseSubCategories\n' +
    'from autobahntestsuite.caseset import CaseSet\n' +
    "cs = CaseSet('fuzzing', 'Case', Cases, CaseCategories, CaseSubCategories)\n" +
    'print(len(cs.parseSpecCases(json.load(open(sys.argv[1])))))\n';
  const result = spawnSync(suite.python, ['-c', script, config], { encoding: 'utf8' });
  const count = Number(result.stdout.trim());
  return result.status === 0 && count > 0 ? count : null;
}
