/**
 * Where the CLI keeps what it builds or installs once per machine (the Autobahn suite, the compiled
 * load generator): $RFC6455_CACHE, else $XDG_CACHE_HOME/rfc6455, else ~/.cache/rfc6455. Not the
 * package folder: npx's copy is read-only or thrown away, and a cache outlives it.
 */
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheDir(...parts: string[]): string {
  const root = process.env.RFC6455_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'rfc6455');
  const dir = join(root, ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}
