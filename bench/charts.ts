/** Horizontal bar charts as plain SVG strings (no chart library). */

export interface Bar {
  label: string;
  value: number | null;
  /** Text drawn after the bar; defaults to the value. */
  text?: string;
  kind?: 'ours' | 'peer' | 'ceiling';
}

const COLORS = { ours: '#2563eb', peer: '#94a3b8', ceiling: '#e2e8f0' } as const;

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function barChart(title: string, subtitle: string, bars: Bar[]): string {
  const width = 640;
  const labelWidth = Math.max(150, 16 + 7 * Math.max(...bars.map((b) => b.label.length)));
  const valueWidth = 110;
  const rowHeight = 26;
  const top = 52;
  const plotWidth = width - labelWidth - valueWidth - 16;
  const max = Math.max(1e-12, ...bars.map((b) => b.value ?? 0));
  const height = top + bars.length * rowHeight + 14;
  const rows = bars.map((bar, i) => {
    const y = top + i * rowHeight;
    const w = bar.value === null ? 0 : Math.max(1, (bar.value / max) * plotWidth);
    const kind = bar.kind ?? 'peer';
    const text = bar.value === null ? 'n/a' : (bar.text ?? String(bar.value));
    const stroke = kind === 'ceiling' ? ' stroke="#94a3b8" stroke-dasharray="4 3"' : '';
    return [
      `<text x="${labelWidth - 8}" y="${y + 17}" text-anchor="end" font-weight="${kind === 'ours' ? 700 : 400}">${esc(bar.label)}</text>`,
      `<rect x="${labelWidth}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowHeight - 8}" rx="2" fill="${COLORS[kind]}"${stroke}/>`,
      `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 17}" fill="#334155">${esc(text)}</text>`,
    ].join('');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="700" fill="#0f172a">${esc(title)}</text>`,
    `<text x="12" y="40" font-size="12" fill="#64748b">${esc(subtitle)}</text>`,
    ...rows,
    `</svg>`,
    '',
  ].join('\n');
}
