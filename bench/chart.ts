/**
 * A dependency-free SVG bar chart: one bar per measured configuration, dashed horizontal
 * lines for baselines. Good enough to see at a glance where the pipeline sits between the
 * naive monolith and the client's read ceiling.
 */
export interface Bar {
  label: string;
  value: number;
}

export interface Line {
  label: string;
  value: number;
  color: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Renders bars plus baseline lines as an SVG document. */
export function barChart(title: string, unit: string, bars: Bar[], lines: Line[]): string {
  const width = 720;
  const height = 420;
  const left = 80;
  const right = 190;
  const top = 50;
  const bottom = 60;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...bars.map((b) => b.value), ...lines.map((l) => l.value)) * 1.1;
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const slot = plotW / Math.max(1, bars.length);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (max / 5) * i;
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v).toLocaleString('en-US')}</text>`);
  }
  bars.forEach((b, i) => {
    const x = left + i * slot + slot * 0.2;
    const w = slot * 0.6;
    parts.push(`<rect x="${x}" y="${y(b.value)}" width="${w}" height="${top + plotH - y(b.value)}" fill="#3b6ea5"/>`);
    parts.push(`<text x="${x + w / 2}" y="${y(b.value) - 5}" text-anchor="middle">${Math.round(b.value).toLocaleString('en-US')}</text>`);
    parts.push(`<text x="${x + w / 2}" y="${top + plotH + 18}" text-anchor="middle">${esc(b.label)}</text>`);
  });
  lines.forEach((l, i) => {
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(l.value)}" y2="${y(l.value)}" stroke="${l.color}" stroke-width="2" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${left + plotW + 8}" y="${y(l.value) + 4 + i * 0}" fill="${l.color}">${esc(l.label)}: ${Math.round(l.value).toLocaleString('en-US')}</text>`);
  });
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  parts.push(`<text x="${left + plotW / 2}" y="${height - 16}" text-anchor="middle">${esc(unit)}</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
