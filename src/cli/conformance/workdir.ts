/**
 * One run's folder: the suite's config and reports, in a temp folder the suite can see (Docker
 * mounts it), copied out for --html and removed at the end so runs never read each other's results.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Suite } from './suite.js';

export interface Workdir {
  dir: string;
  /** Writes a config for `direction`; returns its path here and the outdir path as the suite sees it. */
  config(suite: Suite, direction: string, config: Record<string, unknown>): { path: string; outdir: string };
  outdir(direction: string): string;
  keepHtml(direction: string, destination: string): void;
  remove(): void;
}

export function makeWorkdir(): Workdir {
  const dir = mkdtempSync(join(tmpdir(), 'rfc6455-conformance-'));
  return {
    dir,
    config(suite, direction, config) {
      const outdir = join(dir, 'reports', direction);
      mkdirSync(outdir, { recursive: true });
      const path = join(dir, `${direction}.json`);
      writeFileSync(path, JSON.stringify({ ...config, outdir: suite.seen(dir, outdir) }, null, 2));
      return { path, outdir };
    },
    outdir: (direction) => join(dir, 'reports', direction),
    keepHtml(direction, destination) {
      // Copied over whatever is there, never emptied first: --html . must not wipe a project.
      cpSync(join(dir, 'reports', direction), destination, { recursive: true, force: true });
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
