/** Case selections as the suite reads them: ids like `7.5.1`, a trailing `*` matching any rest. */
import { UsageError } from '../probe.js';

export function matches(id: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith('*') ? id.startsWith(p.slice(0, -1)) : id === p));
}

/** `--cases '1.*,2.*'`: checked here, because the suite silently runs nothing for a pattern it cannot read. */
export function parsePatterns(text: string | undefined, option: string): string[] {
  if (text === undefined) return [];
  const patterns = text.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of patterns) {
    if (!/^(\*|\d+(\.\d+)*(\.\*)?)$/.test(p)) throw new UsageError(`${option}: ${JSON.stringify(p)} is not a case pattern (like 1.*, 7.5.1 or *)`);
  }
  return patterns;
}
