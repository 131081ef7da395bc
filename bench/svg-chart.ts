/**
 * A small line-chart writer: axes (linear or log), ticks, grid, labelled lines and a legend, as
 * a standalone SVG any browser or markdown viewer shows. No dependency, no browser to render it.
 */
export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  /** Circles on the points (few points); a label beside each when `labels` is given. */
  markers?: boolean;
  labels?: readonly string[];
  dashed?: boolean;
}

export interface Axis {
  label: string;
  log?: boolean;
  min?: number;
  max?: number;
  format?: (v: number) => string;
}

export interface Panel {
  y: Axis;
  series: Series[];
}

export interface Chart {
  title: string;
  x: Axis;
  /** Stacked plots sharing the x axis. */
  panels: Panel[];
  width?: number;
  panelHeight?: number;
  /** One line under the plot: what was run. */
  caption?: string;
}

const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];
const FONT = 'font-family="Helvetica, Arial, sans-serif"';
const M = { left: 72, right: 24, gap: 46, bottom: 46 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const r1 = (v: number) => Math.round(v * 10) / 10;

export function formatNumber(v: number): string {
  const digits = Math.abs(v) >= 100 || Number.isInteger(v) ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return v.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** A 1, 2 or 5 × 10^k step giving about `count` intervals over `span`. */
function niceStep(span: number, count = 5): number {
  const raw = span / count || 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * 0.999) ?? 10 * mag;
}

function logTicks(min: number, max: number): number[] {
  const decades = Math.log10(max / min);
  const mantissas = decades <= 2 ? [1, 2, 5] : decades <= 4 ? [1, 3] : [1];
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); 10 ** e <= max; e++)
    for (const m of mantissas) if (m * 10 ** e >= min && m * 10 ** e <= max) ticks.push(m * 10 ** e);
  return ticks;
}

interface Scale {
  at: (v: number) => number;
  ticks: number[];
}

function scale(axis: Axis, values: number[], from: number, to: number): Scale {
  const finite = values.filter((v) => Number.isFinite(v) && (!axis.log || v > 0));
  let lo = axis.min ?? Math.min(...finite);
  let hi = axis.max ?? Math.max(...finite);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = axis.log ? [1, 10] : [0, 1];
  if (axis.log) {
    lo = 10 ** Math.floor(Math.log10(lo));
    hi = 10 ** Math.ceil(Math.log10(hi));
    if (hi <= lo) hi = lo * 10;
    const span = Math.log10(hi) - Math.log10(lo);
    return {
      at: (v) => from + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / span) * (to - from),
      ticks: logTicks(lo, hi),
    };
  }
  if (hi <= lo) hi = lo + 1;
  const step = niceStep(hi - lo);
  // Unless fixed, the axis ends on ticks, so no point sits above the last gridline.
  if (axis.min === undefined) lo = Math.floor(lo / step) * step;
  if (axis.max === undefined) hi = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step); k * step <= hi + step * 1e-9; k++)
    ticks.push(Math.round(k * step * 1e6) / 1e6);
  return { at: (v) => from + ((v - lo) / (hi - lo)) * (to - from), ticks };
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${r1(x)}" y="${r1(y)}" ${attrs}>${esc(s)}</text>`;
}

/** Greedy word wrap to about `chars` characters a line. */
function wrap(s: string, chars: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of s.split(' ')) {
    if (line && line.length + 1 + word.length > chars) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

interface LegendEntry {
  series: Series;
  color: string;
  x: number;
  row: number;
}

/** Every series of every panel, one colour each, flowed into rows across the plot's width. */
function legend(panels: Panel[], x0: number, x1: number): LegendEntry[] {
  const entries: LegendEntry[] = [];
  let x = x0;
  let row = 0;
  for (const series of panels.flatMap((p) => p.series)) {
    const w = 28 + series.name.length * 6.6 + 20;
    if (x > x0 && x + w > x1) [x, row] = [x0, row + 1];
    entries.push({ series, color: COLORS[entries.length % COLORS.length]!, x, row });
    x += w;
  }
  return entries;
}

const dashOf = (s: Series) => (s.dashed ? ' stroke-dasharray="6 4"' : '');

function drawLegend(keys: LegendEntry[], top: number): string[] {
  return keys.flatMap((k) => {
    const y = top + k.row * 20 + 4;
    return [
      `<line x1="${r1(k.x)}" x2="${r1(k.x + 22)}" y1="${y - 4}" y2="${y - 4}" stroke="${k.color}" stroke-width="2"${dashOf(k.series)}/>`,
      text(k.x + 28, y, k.series.name),
    ];
  });
}

function drawSeries(s: Series, color: string, xs: Scale, ys: Scale): string[] {
  const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length === 0) return [];
  const d = pts.map(([x, y], k) => `${k ? 'L' : 'M'}${r1(xs.at(x))} ${r1(ys.at(y))}`).join(' ');
  const out = [`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dashOf(s)}/>`];
  if (s.markers)
    pts.forEach(([x, y], k) => {
      out.push(`<circle cx="${r1(xs.at(x))}" cy="${r1(ys.at(y))}" r="3.5" fill="${color}"/>`);
      const label = s.labels?.[k];
      if (label) out.push(text(xs.at(x) + 6, ys.at(y) - 6, label, `fill="${color}" font-size="11"`));
    });
  return out;
}

/** One plot: grid, tick labels, frame, y label, its lines. */
function drawPanel(
  panel: Panel,
  box: { x0: number; x1: number; y0: number; y1: number },
  xs: Scale & { format: (v: number) => string },
  colorOf: (s: Series) => string,
): string[] {
  const { x0, x1, y0, y1 } = box;
  const ys = scale(
    panel.y,
    panel.series.flatMap((s) => s.points.map((pt) => pt[1])),
    y1,
    y0,
  );
  const fy = panel.y.format ?? formatNumber;
  const mid = r1((y0 + y1) / 2);
  return [
    ...ys.ticks.flatMap((t) => [
      `<line x1="${x0}" x2="${x1}" y1="${r1(ys.at(t))}" y2="${r1(ys.at(t))}" stroke="#e4e4e4"/>`,
      text(x0 - 6, ys.at(t) + 4, fy(t), 'text-anchor="end" fill="#444"'),
    ]),
    ...xs.ticks.flatMap((t) => [
      `<line x1="${r1(xs.at(t))}" x2="${r1(xs.at(t))}" y1="${y0}" y2="${y1}" stroke="#eeeeee"/>`,
      text(xs.at(t), y1 + 16, xs.format(t), 'text-anchor="middle" fill="#444"'),
    ]),
    `<rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" fill="none" stroke="#888"/>`,
    text(18, mid, panel.y.label, `transform="rotate(-90 18 ${mid})" text-anchor="middle"`),
    ...panel.series.flatMap((s) => drawSeries(s, colorOf(s), xs, ys)),
  ];
}

export function renderChart(c: Chart): string {
  const width = c.width ?? 860;
  const ph = c.panelHeight ?? 320;
  const [x0, x1] = [M.left, width - M.right];
  // Layout, top to bottom: title, legend, panels, x label, caption.
  const title = wrap(c.title, Math.floor((x1 - x0) / 9));
  const keys = legend(c.panels, x0, x1);
  const legendTop = 14 + title.length * 20;
  const top = legendTop + (Math.max(0, ...keys.map((k) => k.row)) + 1) * 20 + 8;
  const caption = c.caption ? wrap(c.caption, Math.floor((x1 - x0) / 5.9)) : [];
  const bottom = top + c.panels.length * ph + (c.panels.length - 1) * M.gap;
  const height = bottom + M.bottom + caption.length * 15;
  const allX = c.panels.flatMap((p) => p.series.flatMap((s) => s.points.map((pt) => pt[0])));
  const xs = { ...scale(c.x, allX, x0, x1), format: c.x.format ?? formatNumber };
  const colors = new Map(keys.map((k) => [k.series, k.color]));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...title.map((t, i) => text(x0, 22 + i * 20, t, 'font-size="16" font-weight="bold"')),
    ...drawLegend(keys, legendTop),
    ...c.panels.flatMap((panel, i) => {
      const y0 = top + i * (ph + M.gap);
      return drawPanel(panel, { x0, x1, y0, y1: y0 + ph }, xs, (s) => colors.get(s)!);
    }),
    text((x0 + x1) / 2, bottom + 36, c.x.label, 'text-anchor="middle"'),
    ...caption.map((line, i) => text(x0, bottom + 58 + i * 15, line, 'fill="#666" font-size="11"')),
    '</svg>',
    '',
  ].join('\n');
}
