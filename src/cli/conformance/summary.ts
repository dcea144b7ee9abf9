/**
 * Reads the suite's index.json for each direction and says, at a glance, how each section did:
 * a table of behaviours per section, then every case that is not OK with the suite's own words.
 * A case counts as a failure when it is FAILED, NON-STRICT or UNIMPLEMENTED (the last two allowed
 * for excluded patterns), when its closing behaviour is not OK, or when fewer cases have a result
 * than were selected (the run stopped early).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { matches } from './cases.js';

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
  resultClose: string;
  /** How the testee closed: its close code (null when it sent none) and reason. */
  remoteCloseCode: number | null;
  remoteCloseReason: string;
  excluded: boolean;
  counted: boolean;
}

export interface DirectionSummary {
  direction: string;
  cases: number;
  expected: number | null;
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

export function summarize(direction: string, outdir: string, excluded: readonly string[], expected: number | null = null, agent?: string): DirectionSummary | null {
  const index = join(outdir, 'index.json');
  if (!existsSync(index)) return null;
  const agents = JSON.parse(readFileSync(index, 'utf8')) as Record<string, Record<string, CaseResult>>;
  const results = (agent ? agents[agent] : undefined) ?? Object.values(agents)[0] ?? {};
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
    // An excluded case may fall short, never fail; a behaviour this table does not know counts as bad.
    const allowedShortfall = isExcluded && (r.behavior === 'NON-STRICT' || r.behavior === 'UNIMPLEMENTED');
    const bad = (r.behavior !== 'OK' && r.behavior !== 'INFORMATIONAL' && !allowedShortfall) || (!closeOk && !isExcluded);
    if (bad) failures++;
    // Older suites name the HTML page here, newer ones the JSON beside it: either way, read the JSON.
    const report = join(outdir, r.reportfile.replace(/\.html$/, '.json'));
    const details = existsSync(report)
      ? (JSON.parse(readFileSync(report, 'utf8')) as { description?: string; result?: string; resultClose?: string; remoteCloseReason?: string | null })
      : {};
    findings.push({
      id,
      behavior: r.behavior,
      behaviorClose: r.behaviorClose,
      description: details.description ?? '',
      result: details.result ?? '',
      resultClose: details.resultClose ?? '',
      remoteCloseCode: r.remoteCloseCode ?? null,
      remoteCloseReason: details.remoteCloseReason ?? '',
      excluded: isExcluded,
      counted: bad,
    });
  }
  const cases = Object.keys(results).length;
  if (expected !== null && cases < expected) failures++;
  return { direction, cases, expected, durationMs, table, findings, failures };
}

/** The suite writes its descriptions for its HTML pages: line breaks become spaces, other tags go. */
export function oneLine(text: string): string {
  return text.replace(/<br\s*\/?>/gi, ' ').replace(/<\/?[a-z][^>]*>/gi, '').replace(/\s+/g, ' ').trim();
}

export function toMarkdown(summaries: DirectionSummary[]): string {
  const lines: string[] = [];
  for (const s of summaries) {
    lines.push(`### ${s.direction} — ${s.cases} cases, ${(s.durationMs / 1000).toFixed(1)} s in the cases`, '');
    if (s.expected !== null && s.cases < s.expected) {
      lines.push(`**Only ${s.cases} of ${s.expected} cases have a result: the run stopped early (see its log).**`, '');
    }
    lines.push(`| section | ${BEHAVIOURS.join(' | ')} |`, `|---|${BEHAVIOURS.map(() => '---:').join('|')}|`);
    for (const section of Object.keys(s.table).sort((a, b) => Number(a) - Number(b))) {
      const row = s.table[section];
      lines.push(`| ${section}.* ${SECTIONS[section] ?? ''} | ${BEHAVIOURS.map((b) => row[b] ?? 0).join(' | ')} |`);
    }
    lines.push('');
    if (s.findings.length === 0) lines.push('Every case that ran is OK.', '');
    for (const f of s.findings) {
      const tag = f.counted ? ' — **counts as a failure**' : f.excluded ? ' — excluded' : '';
      lines.push(`- **${f.id}** ${f.behavior} (close: ${f.behaviorClose})${tag}: ${oneLine(f.description)}`);
      // INFORMATIONAL cases are the suite recording a choice the RFC leaves open: the title is enough.
      if (f.behavior !== 'INFORMATIONAL' || f.counted) {
        // The suite's verdict on the close says what it expected; the code and reason say what came.
        const sent = f.remoteCloseCode === null ? 'no close code' : `${f.remoteCloseCode}${f.remoteCloseReason ? ` "${oneLine(f.remoteCloseReason)}"` : ''}`;
        lines.push(`  - result: ${oneLine(f.result)}`, `  - close: ${oneLine(f.resultClose)} (the testee closed with ${sent})`);
      }
    }
    if (s.findings.length) lines.push('');
  }
  return lines.join('\n');
}

export interface Direction {
  /** Title of its table, e.g. "ws://127.0.0.1:9001 as server". */
  name: string;
  /** The suite's outdir for this direction. */
  outdir: string;
  /** The agent name the results are filed under. */
  agent: string;
  /** How many cases the run selected, when known: fewer results means the run stopped early. */
  expected?: number | null;
}

export interface Report {
  summaries: DirectionSummary[];
  failures: number;
  markdown: string;
  /** Directions with no index.json at all. */
  missing: string[];
}

/** The summaries of the directions that ran, and how many cases count as failures. */
export function report(directions: readonly Direction[], excluded: readonly string[]): Report {
  const summaries: DirectionSummary[] = [];
  const missing: string[] = [];
  let failures = 0;
  for (const { name, outdir, agent, expected } of directions) {
    const summary = summarize(name, outdir, excluded, expected ?? null, agent);
    if (!summary) {
      missing.push(`no results for ${name} (${join(outdir, 'index.json')} is missing)`);
      failures++;
      continue;
    }
    summaries.push(summary);
    failures += summary.failures;
  }
  return { summaries, failures, markdown: toMarkdown(summaries), missing };
}
