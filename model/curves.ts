import type { EpochRecord } from './train';

const W = 640;
const H = 260;
const PAD = { l: 48, r: 16, t: 28, b: 36 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function panel(x0: number, title: string, series: Array<{ name: string; color: string; values: Array<number | null> }>, yMax: number | null): string {
  const w = W / 2 - 8;
  const plotW = w - PAD.l - PAD.r;
  const plotH = H - PAD.t - PAD.b;
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const top = yMax ?? Math.max(1e-9, ...all) * 1.05;
  const n = Math.max(...series.map((s) => s.values.length), 1);
  const px = (i: number): number => x0 + PAD.l + (n === 1 ? plotW / 2 : (i * plotW) / (n - 1));
  const py = (v: number): number => PAD.t + plotH - (Math.min(v, top) / top) * plotH;
  const parts: string[] = [
    `<text x="${x0 + w / 2}" y="16" text-anchor="middle" font-size="13" font-weight="600">${esc(title)}</text>`,
    `<line x1="${x0 + PAD.l}" y1="${PAD.t + plotH}" x2="${x0 + PAD.l + plotW}" y2="${PAD.t + plotH}" stroke="#888"/>`,
    `<line x1="${x0 + PAD.l}" y1="${PAD.t}" x2="${x0 + PAD.l}" y2="${PAD.t + plotH}" stroke="#888"/>`,
  ];
  for (const f of [0, 0.5, 1]) {
    const v = top * f;
    parts.push(`<text x="${x0 + PAD.l - 4}" y="${py(v) + 4}" text-anchor="end" font-size="10">${v.toFixed(v < 10 ? 2 : 0)}</text>`);
  }
  parts.push(`<text x="${x0 + PAD.l + plotW}" y="${H - 6}" text-anchor="end" font-size="10">epoch (1–${n})</text>`);
  series.forEach((s, k) => {
    const pts = s.values.map((v, i) => (v === null || !Number.isFinite(v) ? null : `${px(i).toFixed(1)},${py(v).toFixed(1)}`)).filter((p): p is string => p !== null);
    if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    for (const p of pts) {
      const [cx, cy] = p.split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${s.color}"/>`);
    }
    // The legend sits under the axis, where no line can run over it.
    parts.push(`<rect x="${x0 + PAD.l + k * 80}" y="${H - 12}" width="10" height="3" fill="${s.color}"/>`);
    parts.push(`<text x="${x0 + PAD.l + 14 + k * 80}" y="${H - 6}" font-size="10">${esc(s.name)}</text>`);
  });
  return parts.join('');
}

/** Loss and accuracy per epoch, train against validation, as a standalone SVG document. */
export function trainingCurvesSvg(history: readonly EpochRecord[]): string {
  const loss = panel(0, 'Loss', [
    { name: 'train', color: '#2563eb', values: history.map((h) => h.trainLoss) },
    { name: 'validation', color: '#dc2626', values: history.map((h) => h.valLoss) },
  ], null);
  const acc = panel(W / 2, 'Accuracy', [
    { name: 'train', color: '#2563eb', values: history.map((h) => h.trainAccuracy) },
    { name: 'validation', color: '#dc2626', values: history.map((h) => h.valAccuracy) },
  ], 1);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${loss}${acc}</svg>\n`;
}
