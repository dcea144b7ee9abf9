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
    const elapsed = ((Date.now() - started) / 1000).toFixed(0);
    const line = `${label}: case ${n}${total ? ` of ${total}` : ''}${id ? ` (${id})` : ''}, elapsed ${elapsed}s`;
    if (process.stdout.isTTY) {
      latest.set(label, line);
      process.stdout.write(`\r${[...latest.values()].join('  |  ')}\x1b[K`);
      open = true;
      return;
    }
    const section = id?.split('.')[0] ?? '';
    if (n === 1 || n % 25 === 0 || n === total || section !== lastSection) console.log(line);
    lastSection = section;
  };
}

/** Ends the status line so what follows starts on a line of its own (the next update redraws it). */
export function progressDone(): void {
  if (open) process.stdout.write('\n');
  open = false;
}

/** Forgets a finished direction, so the status line shows only what still runs. */
export function progressEnd(label: string): void {
  latest.delete(label);
}
