/**
 * Fenced code blocks of a Markdown file, with what the docs tests need to know about each: its
 * language, the line it starts on, and the output the text after it promises ("Prints:" followed
 * by a ```text block).
 */
import { readFileSync } from 'node:fs';

export interface CodeBlock {
  /** The info string's first word, lower-cased (`js`, `ts`, `nginx`, …). */
  lang: string;
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  /** What the block must print, when the README says so right after it; undefined otherwise. */
  prints: string | undefined;
  /** The nearest heading above the block, to name it in test titles. */
  heading: string;
}

const FENCE = /^(```+|~~~+)\s*([^\s`]*)[^\n]*$/;
/** A paragraph that ends in "prints:" right after a block, then a ```text block: the expected stdout. */
const PRINTS = /^\s*(?:[^\n]*\b)?prints:\s*\n\s*\n?```text\n([\s\S]*?)\n```/i;

export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const heads = /^#{1,6}\s+(.*)$/.exec(lines[i]);
    if (heads) heading = heads[1].trim();
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const fence = open[1];
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i].startsWith(fence); i++) body.push(lines[i]);
    const rest = lines.slice(i + 1, i + 40).join('\n');
    blocks.push({
      lang: open[2].toLowerCase(),
      line: start + 1,
      code: body.join('\n') + '\n',
      prints: PRINTS.exec(rest)?.[1],
      heading,
    });
  }
  return blocks;
}

export function readmeBlocks(path: string): CodeBlock[] {
  return codeBlocks(readFileSync(path, 'utf8'));
}

/** GitHub's anchor for each heading outside code blocks (github-slugger's rules, duplicates numbered). */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | null = null;
  for (const line of markdown.split('\n')) {
    const open = FENCE.exec(line);
    if (fence) {
      if (line.startsWith(fence)) fence = null;
      continue;
    }
    if (open) {
      fence = open[1];
      continue;
    }
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = heading[1].toLowerCase().replace(/[^\p{L}\p{N}\p{M} _-]/gu, '').replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count ? `${base}-${count}` : base);
  }
  return anchors;
}
