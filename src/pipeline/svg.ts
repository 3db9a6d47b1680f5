/**
 * Vector drawing for the pipeline's figures: an SVG document with rectangles, lines, text in the
 * reader's own sans-serif font, embedded raster images (PNG data URIs, scaled without smoothing)
 * and line-plot panels with ticks, grid, axis labels and a legend. SVG is text, so the figures
 * stay sharp at any zoom, render on GitHub and in every browser, and need no plotting library.
 */
import { PNG } from 'pngjs';
import type { Image } from '../data/augment.js';

export const COLORS = {
  black: '#000000',
  grey: '#969696',
  light: '#e1e1e1',
  white: '#ffffff',
  blue: '#1f77b4',
  orange: '#ff7f0e',
  green: '#2ca02c',
  red: '#d62728',
  purple: '#9467bd',
} as const;

/** Text attributes: size in px, anchor (start | middle | end), weight and colour. */
export interface TextStyle {
  size?: number;
  anchor?: 'start' | 'middle' | 'end';
  bold?: boolean;
  color?: string;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A number as an SVG coordinate (two decimals at most, no exponent). */
function n(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** A uint8 image (1 or ≥ 3 channels) as PNG bytes. */
export function imagePng(img: Image): Buffer {
  const png = new PNG({ width: img.w, height: img.h });
  for (let p = 0; p < img.w * img.h; p++) {
    const s = p * img.c;
    const rgb = img.c >= 3 ? [img.data[s]!, img.data[s + 1]!, img.data[s + 2]!] : [img.data[s]!, img.data[s]!, img.data[s]!];
    png.data.set([...rgb, 255], p * 4);
  }
  return PNG.sync.write(png);
}

/** Width of `s` in px at font size `size`: an estimate for layout (a sans-serif's average glyph is ~0.6 em). */
export function textWidth(s: string, size = 12): number {
  return s.length * size * 0.6;
}

export class Svg {
  private readonly parts: string[] = [];
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.rect(0, 0, width, height, COLORS.white);
  }

  rect(x: number, y: number, w: number, h: number, fill: string): void {
    this.parts.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" fill="${fill}"/>`);
  }

  /** Outline of a rectangle. */
  box(x: number, y: number, w: number, h: number, stroke: string): void {
    this.parts.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" fill="none" stroke="${stroke}"/>`);
  }

  line(x0: number, y0: number, x1: number, y1: number, stroke: string, width = 1): void {
    this.parts.push(`<line x1="${n(x0)}" y1="${n(y0)}" x2="${n(x1)}" y2="${n(y1)}" stroke="${stroke}" stroke-width="${width}"/>`);
  }

  polyline(points: [number, number][], stroke: string, width = 2, dashed = false): void {
    if (points.length < 2) return;
    const dash = dashed ? ' stroke-dasharray="6 4"' : '';
    this.parts.push(`<polyline points="${points.map(([a, b]) => `${n(a)},${n(b)}`).join(' ')}" fill="none" stroke="${stroke}" stroke-width="${width}"${dash} stroke-linejoin="round"/>`);
  }

  circle(x: number, y: number, r: number, fill: string): void {
    this.parts.push(`<circle cx="${n(x)}" cy="${n(y)}" r="${n(r)}" fill="${fill}"/>`);
  }

  /** Text with its baseline at y. */
  text(s: string, x: number, y: number, style: TextStyle = {}): void {
    const attrs = [`x="${n(x)}"`, `y="${n(y)}"`, `font-size="${style.size ?? 12}"`];
    if (style.anchor && style.anchor !== 'start') attrs.push(`text-anchor="${style.anchor}"`);
    if (style.bold) attrs.push('font-weight="bold"');
    if (style.color) attrs.push(`fill="${style.color}"`);
    this.parts.push(`<text ${attrs.join(' ')}>${esc(s)}</text>`);
  }

  /** Text rotated a quarter turn anticlockwise, centred on (x, y) (a y-axis label). */
  verticalText(s: string, x: number, y: number, size = 12): void {
    this.parts.push(`<text x="${n(x)}" y="${n(y)}" font-size="${size}" text-anchor="middle" transform="rotate(-90 ${n(x)} ${n(y)})">${esc(s)}</text>`);
  }

  /** A uint8 image at (x, y), each pixel a scale×scale block (no smoothing). */
  image(img: Image, x: number, y: number, scale = 1): void {
    const uri = `data:image/png;base64,${imagePng(img).toString('base64')}`;
    this.parts.push(`<image x="${n(x)}" y="${n(y)}" width="${n(img.w * scale)}" height="${n(img.h * scale)}" image-rendering="pixelated" style="image-rendering:pixelated" href="${uri}"/>`);
  }

  /** The document; `title` becomes its <title> (shown by file browsers, read by screen readers). */
  toString(title?: string): string {
    const [w, h] = [Math.ceil(this.width), Math.ceil(this.height)];
    const head = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="Helvetica, Arial, sans-serif">`;
    return [head, ...(title ? [`<title>${esc(title)}</title>`] : []), ...this.parts, '</svg>', ''].join('\n');
  }
}

export interface Series {
  label: string;
  color: string;
  /** (x, y) points; NaN y values are skipped */
  points: [number, number][];
  /** x values to mark with a red cross (e.g. collapsed epochs) */
  marks?: number[];
  /** a dashed line without point markers (a reference level) */
  dashed?: boolean;
}

/** A compact number for axis labels. */
export function axisNumber(v: number): string {
  if (!Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e4 || a < 1e-3)) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

/**
 * "Nice" axis ticks between lo and hi: multiples of 1, 2 or 5 × 10^k, about `n` of them (the
 * first tick ≥ lo, the last ≤ hi).
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((st) => st >= raw)!;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

export interface PlotOptions {
  xMin?: number;
  xMax?: number;
  yMin?: number;
  yMax?: number;
  xLabel?: string;
  yLabel?: string;
}

/**
 * A line-plot panel drawn into `svg` at (x, y) with size w × h: a title, a frame with grid lines
 * at nice ticks on both axes (labelled), axis labels, and a legend under the x-axis label.
 * `xMin` / `xMax` / `yMin` / `yMax` fix the ranges (panels of one figure share the x range).
 */
export function linePlot(svg: Svg, x: number, y: number, w: number, h: number, title: string, series: Series[], opts: PlotOptions = {}): void {
  const all = series.flatMap((s) => s.points).filter(([, v]) => Number.isFinite(v));
  const xs = all.map(([a]) => a);
  let x0 = opts.xMin ?? (xs.length ? Math.min(...xs) : 0);
  let x1 = opts.xMax ?? (xs.length ? Math.max(...xs) : 1);
  if (x1 === x0) [x0, x1] = [x0 - 0.5, x1 + 0.5];
  let y0 = opts.yMin ?? (all.length ? Math.min(...all.map(([, v]) => v)) : 0);
  let y1 = opts.yMax ?? (all.length ? Math.max(...all.map(([, v]) => v)) : 1);
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const yTicks = niceTicks(y0, y1, 4);
  const xTicks = niceTicks(x0, x1, 5);
  const tickSize = 11;
  const left = x + (opts.yLabel ? 20 : 6) + Math.max(...yTicks.map((t) => textWidth(axisNumber(t), tickSize))) + 6;
  const top = y + 26;
  // legend entries laid out in rows under the x-axis label
  const legend: { s: Series; lx: number; row: number }[] = [];
  let lx = 0;
  let row = 0;
  for (const s of series) {
    const wEntry = 18 + textWidth(s.label, 11);
    if (lx > 0 && lx + wEntry > w - 20) [lx, row] = [0, row + 1];
    legend.push({ s, lx, row });
    lx += wEntry + 12;
  }
  const legendRows = legend.length ? row + 1 : 0;
  const pw = x + w - 14 - left;
  const ph = h - (top - y) - 38 - 18 * legendRows;
  const px = (v: number) => left + ((v - x0) / (x1 - x0)) * pw;
  const py = (v: number) => top + ph - ((Math.min(y1, Math.max(y0, v)) - y0) / (y1 - y0)) * ph;
  svg.text(title, x + w / 2, y + 16, { size: 13, bold: true, anchor: 'middle' });
  for (const t of yTicks) {
    const ty = py(t);
    if (t !== y0 && t !== y1) svg.line(left, ty, left + pw, ty, COLORS.light);
    svg.line(left - 4, ty, left, ty, COLORS.black);
    svg.text(axisNumber(t), left - 6, ty + 4, { size: tickSize, anchor: 'end' });
  }
  for (const t of xTicks) {
    const tx = px(t);
    svg.line(tx, top + ph, tx, top + ph + 4, COLORS.black);
    svg.text(axisNumber(t), tx, top + ph + 16, { size: tickSize, anchor: 'middle' });
  }
  svg.box(left, top, pw, ph, COLORS.black);
  if (opts.xLabel) svg.text(opts.xLabel, left + pw / 2, top + ph + 31, { size: 12, anchor: 'middle' });
  if (opts.yLabel) svg.verticalText(opts.yLabel, x + 10, top + ph / 2, 12);
  for (const s of series) {
    const pts = s.points.filter(([, v]) => Number.isFinite(v)).map(([a, b]) => [px(a), py(b)] as [number, number]);
    if (s.dashed) {
      svg.polyline(pts, s.color, 1.5, true);
      continue;
    }
    svg.polyline(pts, s.color, 2);
    for (const [a, b] of pts) svg.circle(a, b, 2.5, s.color);
    for (const m of s.marks ?? []) {
      const p = s.points.find(([a]) => a === m);
      if (!p || !Number.isFinite(p[1])) continue;
      const [cx, cy] = [px(p[0]), py(p[1])];
      svg.line(cx - 5, cy - 5, cx + 5, cy + 5, COLORS.red, 2);
      svg.line(cx - 5, cy + 5, cx + 5, cy - 5, COLORS.red, 2);
    }
  }
  const lx0 = Math.min(left, x + 10);
  for (const { s, lx: ex, row: r } of legend) {
    const ly = top + ph + 50 + 18 * r;
    svg.polyline([[lx0 + ex, ly - 4], [lx0 + ex + 14, ly - 4]], s.color, s.dashed ? 1.5 : 3, s.dashed);
    svg.text(s.label, lx0 + ex + 18, ly, { size: 11 });
  }
}
