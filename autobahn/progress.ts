/** One progress line per case on a terminal (rewritten in place); in logs, one every 25 cases and at each new section. */
export function progressPrinter(label: string): (n: number, total: number | null, id?: string) => void {
  const started = Date.now();
  let lastSection = '';
  return (n, total, id) => {
    const elapsed = ((Date.now() - started) / 1000).toFixed(0);
    const line = `${label}: case ${n}${total ? ` of ${total}` : ''}${id ? ` (${id})` : ''}, ${elapsed} s elapsed`;
    if (process.stdout.isTTY) return void process.stdout.write(`\r${line}   `);
    const section = id?.split('.')[0] ?? '';
    if (n % 25 === 0 || n === total || section !== lastSection) console.log(line);
    lastSection = section;
  };
}
