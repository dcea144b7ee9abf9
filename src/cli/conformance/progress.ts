/**
 * Progress through the cases of both directions: on a terminal one status line rewritten in place
 * (two runners each rewriting their own line would overwrite each other); in a log, one line every
 * 25 cases and at each new section, so a CI log stays short but still shows where a run hung.
 */
const latest = new Map<string, string>();
let open = false;

export function progressPrinter(label: string): (n: number, total: number | null, id?: string) => void {
  const started = Date.now();
  let lastSection = '';
  return (n, total, id) => {
    const seconds = (Date.now() - started) / 1000;
    // The ETA assumes the cases left take as long as those done: the compression sections are slower.
    const eta = total && n > 1 ? `, ETA ${formatSeconds((seconds / (n - 1)) * (total - n + 1))}` : '';
    const line = `${label}: case ${n}${total ? ` of ${total}` : ''}${id ? ` (${id})` : ''}, elapsed ${formatSeconds(seconds)}${eta}`;
    if (process.stderr.isTTY) {
      latest.set(label, line);
      process.stderr.write(`\r${[...latest.values()].join('  |  ')}\x1b[K`);
      open = true;
      return;
    }
    const section = id?.split('.')[0] ?? '';
    if (n === 1 || n % 25 === 0 || n === total || section !== lastSection) console.error(line);
    lastSection = section;
  };
}

function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Ends the status line so what follows starts on a line of its own (the next update redraws it). */
export function progressDone(): void {
  if (open) process.stderr.write('\n');
  open = false;
}

/** Forgets a finished direction, so the status line shows only what still runs. */
export function progressEnd(label: string): void {
  latest.delete(label);
}
