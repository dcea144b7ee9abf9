/**
 * Runs once before the tests (vitest globalSetup): says plainly which programs the tests need that
 * this machine lacks, and how to get them, before any test fails or skips for want of one. No
 * install script in the package does this: a user of the library needs none of them.
 */
import { spawnSync } from 'node:child_process';

interface Tool {
  name: string;
  /** Where the tests look for it (a path), or the name looked up on PATH and in /usr/sbin. */
  paths: string[];
  versionFlag: string;
  /** Debian package. */
  apt: string;
  usedBy: string;
}

const TOOLS: Tool[] = [
  { name: 'chromium', paths: ['/usr/bin/chromium'], versionFlag: '--version', apt: 'chromium', usedBy: 'browser interop and e2e tests (they fail without it)' },
  { name: 'redis-server', paths: ['redis-server'], versionFlag: '--version', apt: 'redis-server', usedBy: 'pub/sub tests and README Redis blocks (they fail without it)' },
  { name: 'tinyproxy', paths: ['tinyproxy'], versionFlag: '-v', apt: 'tinyproxy', usedBy: 'client proxy tests (skipped) and the README proxy block (fails)' },
  { name: 'nginx', paths: ['nginx', '/usr/sbin/nginx'], versionFlag: '-v', apt: 'nginx', usedBy: 'README nginx configuration test (skipped)' },
  { name: 'haproxy', paths: ['haproxy', '/usr/sbin/haproxy'], versionFlag: '-v', apt: 'haproxy', usedBy: 'README HAProxy configuration test (skipped)' },
  { name: 'openssl', paths: ['openssl'], versionFlag: 'version', apt: 'openssl', usedBy: 'TLS tests, for their self-signed certificates (they fail without it)' },
];

function present(tool: Tool): boolean {
  return tool.paths.some((path) => spawnSync(path, [tool.versionFlag], { stdio: 'ignore' }).error === undefined);
}

export default function setup(): void {
  const missing = TOOLS.filter((tool) => !present(tool));
  if (!missing.length) return;
  const lines = [
    '',
    'rfc6455 tests: programs missing on this machine:',
    ...missing.map((tool) => `  - ${tool.name}: ${tool.usedBy}`),
    `Install them with: apt-get update && apt-get install -y ${missing.map((tool) => tool.apt).join(' ')}`,
    '(.ci/run, run as root on Debian or Ubuntu, installs chromium, redis-server, tinyproxy, nginx and haproxy when missing, then runs npm test.)',
    '',
  ];
  console.warn(lines.join('\n'));
}
