/**
 * Finds the Autobahn|Testsuite, in this order: `wstest` on PATH; a local install in the cache folder
 * (`~/.cache/rfc6455/wstest`, made here once with Python 2.7 from PyPI, the way the suite's own
 * Dockerfile pins it); the crossbario/autobahn-testsuite Docker image where a Docker engine answers.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { cacheDir } from '../cache.js';
import { CliError } from '../probe.js';

export interface Suite {
  /** How it was found, for the log. */
  source: string;
  /** argv prefix that runs wstest with `dir` (configs, reports) visible to it (Docker mounts it). */
  command(dir: string): string[];
  /** The path under which the suite sees `dir`. */
  seen(dir: string, path: string): string;
  /** A Python that can import the suite, to count cases; null under Docker. */
  python: string | null;
}

function onPath(command: string): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

function pyenvRoot(): string | null {
  if (process.env.PYENV_ROOT) return process.env.PYENV_ROOT;
  const found = spawnSync('pyenv', ['root'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

function python27(): string | null {
  const pyenv = pyenvRoot();
  const candidates = [
    pyenv && join(pyenv, 'versions/2.7.18/bin/python'),
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

/**
 * The suite's Dockerfile pins, in its order: pip/setuptools/wheel new enough for the wheels yet still
 * speaking Python 2.7, then the crypto stack, then Twisted and the suite built against what is there
 * (`--no-build-isolation`: an isolated build would fetch a setuptools that no longer runs on 2.7).
 */
const STEPS: Array<{ packages: string[]; isolated: boolean }> = [
  { packages: ['pip==20.3.4', 'setuptools==44.0.0', 'wheel==0.36.2'], isolated: true },
  { packages: ['incremental==16.10.1', 'pyOpenSSL==19.1.0', 'cryptography==3.3.2'], isolated: true },
  { packages: ['Twisted==19.10.0'], isolated: false },
  { packages: ['autobahntestsuite==25.10.1'], isolated: false },
];
/** The marker holds the pins, so changing a pin above reinstalls instead of reusing a stale venv. */
const PINS = STEPS.flatMap((step) => step.packages).join(' ');

/** Runs one install step quietly; on failure shows its output, which says what was missing. */
function step(title: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const started = Date.now();
  process.stderr.write(`  ${title} … `);
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...env, PIP_NO_PYTHON_VERSION_WARNING: '1' } });
  if (result.status !== 0) {
    console.error('failed');
    console.error(`${result.stdout ?? ''}${result.stderr ?? ''}`.split('\n').slice(-40).join('\n'));
    throw new CliError(
      `installing the Autobahn|Testsuite failed at "${title}": Twisted and the suite build C extensions, so gcc and ` +
        'the Python 2.7 headers must be present (pyenv builds include them); see the output above',
    );
  }
  console.error(`${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/**
 * Twisted, wsaccel, ujson, zope.interface and MarkupSafe have no Python 2.7 wheels for Linux and are
 * compiled here (cryptography comes as a wheel, so no OpenSSL or libffi headers are needed). Under CI
 * the compiler is installed when missing; elsewhere that is left to the person, with one line saying so.
 */
function ensureCompiler(): void {
  if (onPath('gcc') ?? onPath('cc')) return;
  if (process.env.CI === 'true' && onPath('apt-get')) {
    step('apt-get install gcc libc6-dev (CI)', 'sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev']);
    return;
  }
  throw new CliError('installing the Autobahn|Testsuite needs a C compiler for its Python 2.7 extensions: install gcc (apt-get install gcc) and rerun');
}

/** Installs the suite into the cache's wstest/venv with the versions its Dockerfile uses. */
function install(python: string, installDir: string, venv: string, marker: string): void {
  ensureCompiler();
  console.error(`installing the Autobahn|Testsuite with ${python} into ${venv} (once; one to four minutes)`);
  rmSync(installDir, { recursive: true, force: true });
  mkdirSync(installDir, { recursive: true });
  // Python 2.7 has no venv module, and virtualenv 20.22 dropped 2.7: an older one, in a folder of
  // its own (--target), so the Python it runs on is left as it was.
  const tool = join(installDir, 'virtualenv');
  step('virtualenv<20.22', python, ['-m', 'pip', 'install', '--quiet', '--target', tool, 'virtualenv<20.22']);
  step('create the venv', python, ['-m', 'virtualenv', '--quiet', venv], { ...process.env, PYTHONPATH: tool });
  const pip = join(venv, 'bin/pip');
  for (const { packages, isolated } of STEPS) {
    step(packages.join(' '), pip, ['install', '--quiet', ...(isolated ? [] : ['--no-build-isolation']), ...packages]);
  }
  step('wstest --help', join(venv, 'bin/wstest'), ['--help']);
  writeFileSync(marker, PINS + '\n');
}

function dockerAnswers(): boolean {
  return onPath('docker') !== null && spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Two runs on a machine without the suite (two test files, two terminals) must not install into
 * the same folder at once: the first takes the lock (a folder: mkdir is atomic), the others wait
 * for it and then use what it installed. A lock older than the slowest install is a run that died.
 */
function withInstallLock(lock: string, ready: () => boolean, install: () => void): void {
  const STALE_MS = 15 * 60_000;
  let waiting = false;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      let age = 0;
      try {
        age = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue;
      }
      if (age > STALE_MS) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!waiting) console.error(`another run is installing the Autobahn|Testsuite (${lock} exists); waiting for it`);
      waiting = true;
      Atomics.wait(sleeper, 0, 0, 1000);
    }
  }
  try {
    if (!ready()) install();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

const asIs = (_dir: string, path: string) => path;

export function findSuite(): Suite {
  const global = onPath('wstest');
  if (global) return { source: `wstest on PATH (${global})`, command: () => [global], seen: asIs, python: null };
  const installDir = cacheDir('wstest');
  const venv = join(installDir, 'venv');
  const marker = join(installDir, 'installed');
  const local = join(venv, 'bin/wstest');
  const installed: Suite = { source: `local install (${venv})`, command: () => [local], seen: asIs, python: join(venv, 'bin/python') };
  if (existsSync(local) && existsSync(marker) && readFileSync(marker, 'utf8').trim() === PINS) return installed;
  const python = python27();
  if (python) {
    const ready = () => existsSync(local) && existsSync(marker) && readFileSync(marker, 'utf8').trim() === PINS;
    withInstallLock(`${installDir}.lock`, ready, () => install(python, installDir, venv, marker));
    return installed;
  }
  if (dockerAnswers()) {
    return {
      source: 'Docker image crossbario/autobahn-testsuite',
      // --init: wstest as PID 1 would get no default signal handling, and stopping it would hang.
      command: (dir) => ['docker', 'run', '--rm', '--init', '--net=host', '-v', `${dir}:/autobahn`, 'crossbario/autobahn-testsuite', 'wstest'],
      seen: (dir, path) => join('/autobahn', path.slice(dir.length)),
      python: null,
    };
  }
  throw new CliError(
    'the Autobahn|Testsuite is not installed and cannot be: install Python 2.7 (`pyenv install 2.7.18`, or python2.7 on PATH) and a C compiler, or put `wstest` on PATH, or start a Docker engine, then rerun',
  );
}

/** How many cases a config selects, from the suite's own case list (null if it cannot be asked). */
export function countCases(suite: Suite, config: string): number | null {
  return suite.python ? count(suite.python, config) : null;
}

function count(python: string, config: string): number | null {
  const script =
    'import json,sys\n' +
    'from autobahntestsuite.case import Cases, CaseCategories, CaseSubCategories\n' +
    'from autobahntestsuite.caseset import CaseSet\n' +
    "cs = CaseSet('fuzzing', 'Case', Cases, CaseCategories, CaseSubCategories)\n" +
    'print(len(cs.parseSpecCases(json.load(open(sys.argv[1])))))\n';
  const result = spawnSync(python, ['-c', script, config], { encoding: 'utf8' });
  const count = Number(result.stdout.trim());
  return result.status === 0 && count > 0 ? count : null;
}
