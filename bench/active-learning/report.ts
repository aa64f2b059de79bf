/** The active-learning result as a Markdown table and an SVG chart of accuracy against labels. */
import type { ActiveLearningResult, Strategy } from './experiment';

const COLORS: Record<Strategy, string> = { random: '#888888', entropy: '#d95f02', margin: '#1b9e77' };

/** Mean ± std accuracy per label count, one column per strategy, and each uncertainty order's gain over random. */
export function resultTable(result: ActiveLearningResult): string {
  const s = result.summary;
  const random = s.find((x) => x.strategy === 'random');
  const others = s.filter((x) => x.strategy !== 'random');
  const head = ['labels', ...s.map((x) => `${x.strategy} (mean ± std)`), ...(random ? others.map((x) => `${x.strategy} − random`) : [])];
  const rows = s[0]!.labels.map((n, k) => [
    String(n),
    ...s.map((x) => `${x.mean[k]!.toFixed(4)} ± ${x.std[k]!.toFixed(4)}`),
    ...(random ? others.map((x) => `${x.mean[k]! - random.mean[k]! >= 0 ? '+' : ''}${(x.mean[k]! - random.mean[k]!).toFixed(4)}`) : []),
  ]);
  return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '--:' : '--:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Accuracy against labels: the mean over seeds per strategy, with a band of ± one standard deviation. */
export function resultSvg(result: ActiveLearningResult, title: string): string {
  const W = 640;
  const H = 360;
  const pad = { l: 56, r: 120, t: 36, b: 44 };
  const plotW = W - pad.l - pad.r;
  const plotH = H - pad.t - pad.b;
  const labels = result.summary[0]!.labels;
  const all = result.summary.flatMap((s) => s.mean.flatMap((m, k) => [m - s.std[k]!, m + s.std[k]!]));
  const lo = Math.max(0, Math.floor(Math.min(...all) * 20) / 20);
  const hi = Math.min(1, Math.ceil(Math.max(...all) * 20) / 20);
  const x0 = labels[0]!;
  const x1 = labels.at(-1)!;
  const px = (n: number): number => pad.l + (x1 === x0 ? plotW / 2 : ((n - x0) / (x1 - x0)) * plotW);
  const py = (v: number): number => pad.t + plotH - ((v - lo) / Math.max(1e-9, hi - lo)) * plotH;
  const esc = (t: string): string => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${pad.l + plotW / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">${esc(title)}</text>`,
    `<line x1="${pad.l}" y1="${pad.t + plotH}" x2="${pad.l + plotW}" y2="${pad.t + plotH}" stroke="#888"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${pad.t + plotH}" stroke="#888"/>`,
    `<text x="${pad.l + plotW / 2}" y="${H - 8}" text-anchor="middle" font-size="12">labelled images</text>`,
    `<text x="14" y="${pad.t + plotH / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${pad.t + plotH / 2})">accuracy</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(`<line x1="${pad.l}" y1="${py(v).toFixed(1)}" x2="${pad.l + plotW}" y2="${py(v).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${pad.l - 6}" y="${(py(v) + 4).toFixed(1)}" text-anchor="end" font-size="11">${v.toFixed(3)}</text>`);
  }
  for (const n of labels) parts.push(`<text x="${px(n).toFixed(1)}" y="${pad.t + plotH + 16}" text-anchor="middle" font-size="11">${n}</text>`);
  result.summary.forEach((s, i) => {
    const color = COLORS[s.strategy];
    const upper = s.labels.map((n, k) => `${px(n).toFixed(1)},${py(s.mean[k]! + s.std[k]!).toFixed(1)}`);
    const lower = s.labels.map((n, k) => `${px(n).toFixed(1)},${py(s.mean[k]! - s.std[k]!).toFixed(1)}`).reverse();
    parts.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${color}" fill-opacity="0.12" stroke="none"/>`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${s.labels.map((n, k) => `${px(n).toFixed(1)},${py(s.mean[k]!).toFixed(1)}`).join(' ')}"/>`);
    for (const [k, n] of s.labels.entries()) parts.push(`<circle cx="${px(n).toFixed(1)}" cy="${py(s.mean[k]!).toFixed(1)}" r="3" fill="${color}"/>`);
    parts.push(`<rect x="${W - pad.r + 14}" y="${pad.t + 8 + i * 20}" width="14" height="3" fill="${color}"/>`);
    parts.push(`<text x="${W - pad.r + 34}" y="${pad.t + 13 + i * 20}" font-size="12">${esc(s.strategy)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
