/**
 * Reads the suite's index.json for each direction and says, at a glance, how each section did:
 * a table of behaviours per section, then every case that is not OK with the suite's own words.
 * Exits non-zero (when run as a script) if anything failed or fell short outside the exclusions.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BEHAVIOURS = ['OK', 'NON-STRICT', 'INFORMATIONAL', 'UNIMPLEMENTED', 'FAILED'] as const;
const SECTIONS: Record<string, string> = {
  '1': 'framing',
  '2': 'ping/pong',
  '3': 'reserved bits',
  '4': 'opcodes',
  '5': 'fragmentation',
  '6': 'UTF-8',
  '7': 'closing',
  '9': 'limits/performance',
  '10': 'auto-fragmentation',
  '12': 'compression',
  '13': 'compression params',
};

interface CaseResult {
  behavior: string;
  behaviorClose: string;
  duration: number;
  remoteCloseCode: number | null;
  reportfile: string;
}

export interface Finding {
  id: string;
  behavior: string;
  behaviorClose: string;
  description: string;
  result: string;
  excluded: boolean;
}

export interface DirectionSummary {
  direction: string;
  cases: number;
  durationMs: number;
  table: Record<string, Record<string, number>>;
  findings: Finding[];
  failures: number;
}

function compareIds(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

function matches(id: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith('*') ? id.startsWith(p.slice(0, -1)) : id === p));
}

export function summarize(direction: string, outdir: string, excluded: readonly string[]): DirectionSummary | null {
  const index = join(outdir, 'index.json');
  if (!existsSync(index)) return null;
  const agents = JSON.parse(readFileSync(index, 'utf8')) as Record<string, Record<string, CaseResult>>;
  const results = agents.rfc6455 ?? Object.values(agents)[0] ?? {};
  const table: Record<string, Record<string, number>> = {};
  const findings: Finding[] = [];
  let durationMs = 0;
  let failures = 0;
  for (const id of Object.keys(results).sort(compareIds)) {
    const r = results[id];
    durationMs += r.duration;
    const section = id.split('.')[0];
    const row = (table[section] ??= Object.fromEntries(BEHAVIOURS.map((b) => [b, 0])));
    row[r.behavior] = (row[r.behavior] ?? 0) + 1;
    const closeOk = r.behaviorClose === 'OK' || r.behaviorClose === 'INFORMATIONAL';
    if (r.behavior === 'OK' && closeOk) continue;
    const isExcluded = matches(id, excluded);
    const bad = r.behavior === 'FAILED' || (!isExcluded && (r.behavior === 'NON-STRICT' || r.behavior === 'UNIMPLEMENTED' || !closeOk));
    if (bad) failures++;
    let description = '';
    let result = '';
    const report = join(outdir, r.reportfile.replace(/\.html$/, '.json'));
    if (existsSync(report)) {
      const details = JSON.parse(readFileSync(report, 'utf8')) as { description?: string; result?: string };
      description = details.description ?? '';
      result = details.result ?? '';
    }
    findings.push({ id, behavior: r.behavior, behaviorClose: r.behaviorClose, description, result, excluded: isExcluded });
  }
  return { direction, cases: Object.keys(results).length, durationMs, table, findings, failures };
}

export function toMarkdown(summaries: DirectionSummary[]): string {
  const lines: string[] = [];
  for (const s of summaries) {
    lines.push(`### ${s.direction} — ${s.cases} cases`, '');
    lines.push(`| section | ${BEHAVIOURS.join(' | ')} |`, `|---|${BEHAVIOURS.map(() => '---:').join('|')}|`);
    for (const section of Object.keys(s.table).sort((a, b) => Number(a) - Number(b))) {
      const row = s.table[section];
      lines.push(`| ${section}.* ${SECTIONS[section] ?? ''} | ${BEHAVIOURS.map((b) => row[b] ?? 0).join(' | ')} |`);
    }
    lines.push('');
    if (s.findings.length === 0) lines.push('Every case OK.', '');
    for (const f of s.findings) {
      lines.push(`- **${f.id}** ${f.behavior} (close: ${f.behaviorClose})${f.excluded ? ' — excluded' : ''}: ${f.description.replace(/\s+/g, ' ')}`);
    }
    if (s.findings.length) lines.push('');
  }
  return lines.join('\n');
}

/** Prints and writes the summaries; returns how many cases count as failures. */
export function report(reportsRoot: string, directions: Array<{ name: string; dir: string }>, excluded: readonly string[]): number {
  const summaries: DirectionSummary[] = [];
  let failures = 0;
  for (const { name, dir } of directions) {
    const summary = summarize(name, join(reportsRoot, dir), excluded);
    if (!summary) {
      console.error(`no results for ${name} (${join(reportsRoot, dir, 'index.json')} is missing)`);
      failures++;
      continue;
    }
    summaries.push(summary);
    failures += summary.failures;
  }
  const markdown = toMarkdown(summaries);
  console.log('\n' + markdown);
  writeFileSync(join(reportsRoot, 'summary.md'), markdown + '\n');
  writeFileSync(join(reportsRoot, 'summary.json'), JSON.stringify(summaries, null, 2) + '\n');
  console.log(failures === 0 ? 'conformance: every case OK' : `conformance: ${failures} case(s) not OK`);
  return failures;
}
