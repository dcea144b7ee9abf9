/**
 * Progress through the cases: on a terminal one line rewritten in place; in a log, one line every
 * 25 cases and at each new section, so a CI log stays short but still shows where a run hung.
 */
let open = false;

export function progressPrinter(label: string): (n: number, total: number | null, id?: string) => void {
  const started = Date.now();
  let lastSection = '';
  return (n, total, id) => {
    const elapsed = ((Date.now() - started) / 1000).toFixed(0);
    const line = `${label}: case ${n}${total ? ` of ${total}` : ''}${id ? ` (${id})` : ''}, elapsed ${elapsed}s`;
    if (process.stdout.isTTY) {
      process.stdout.write(`\r${line}\x1b[K`);
      open = true;
      return;
    }
    const section = id?.split('.')[0] ?? '';
    if (n === 1 || n % 25 === 0 || n === total || section !== lastSection) console.log(line);
    lastSection = section;
  };
}

/** Ends the in-place line so what follows starts on a line of its own. */
export function progressDone(): void {
  if (open) process.stdout.write('\n');
  open = false;
}
