/**
 * Minimal raster drawing for the pipeline's figures (pngjs only, no plotting library): an RGB
 * canvas with rectangles, lines, images, a 3×5 pixel font (digits, capitals, a few symbols) and
 * simple line plots.
 */
import { PNG } from 'pngjs';
import type { Image } from '../data/augment.js';

export type RGB = [number, number, number];

export const COLORS = {
  black: [0, 0, 0] as RGB,
  grey: [150, 150, 150] as RGB,
  light: [225, 225, 225] as RGB,
  white: [255, 255, 255] as RGB,
  blue: [31, 119, 180] as RGB,
  orange: [255, 127, 14] as RGB,
  green: [44, 160, 44] as RGB,
  red: [214, 39, 40] as RGB,
  purple: [148, 103, 189] as RGB,
};

// 3×5 glyphs, rows top to bottom, '#' = ink
const GLYPHS: Record<string, string> = {
  '0': '### #.# #.# #.# ###', '1': '.#. ##. .#. .#. ###', '2': '### ..# ### #.. ###', '3': '### ..# ### ..# ###',
  '4': '#.# #.# ### ..# ..#', '5': '### #.. ### ..# ###', '6': '### #.. ### #.# ###', '7': '### ..# ..# ..# ..#',
  '8': '### #.# ### #.# ###', '9': '### #.# ### ..# ###',
  A: '.#. #.# ### #.# #.#', B: '##. #.# ##. #.# ##.', C: '.## #.. #.. #.. .##', D: '##. #.# #.# #.# ##.',
  E: '### #.. ##. #.. ###', F: '### #.. ##. #.. #..', G: '.## #.. #.# #.# .##', H: '#.# #.# ### #.# #.#',
  I: '### .#. .#. .#. ###', J: '..# ..# ..# #.# .#.', K: '#.# #.# ##. #.# #.#', L: '#.. #.. #.. #.. ###',
  M: '#.# ### ### #.# #.#', N: '##. #.# #.# #.# #.#', O: '.#. #.# #.# #.# .#.', P: '##. #.# ##. #.. #..',
  Q: '.#. #.# #.# ##. .##', R: '##. #.# ##. #.# #.#', S: '.## #.. .#. ..# ##.', T: '### .#. .#. .#. .#.',
  U: '#.# #.# #.# #.# ###', V: '#.# #.# #.# #.# .#.', W: '#.# #.# ### ### #.#', X: '#.# #.# .#. #.# #.#',
  Y: '#.# #.# .#. .#. .#.', Z: '### ..# .#. #.. ###',
  '.': '... ... ... ... .#.', '%': '#.. ..# .#. #.. ..#', '-': '... ... ### ... ...', '/': '..# ..# .#. #.. #..',
  ':': '... .#. ... .#. ...', '(': '.#. #.. #.. #.. .#.', ')': '.#. ..# ..# ..# .#.', '=': '... ### ... ### ...',
  '+': '... .#. ### .#. ...', ',': '... ... ... .#. #..', '_': '... ... ... ... ###', ' ': '... ... ... ... ...',
};

export class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    bg: RGB = COLORS.white,
  ) {
    this.data = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.data.set(bg, i * 3);
  }

  set(x: number, y: number, c: RGB): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.data.set(c, (y * this.width + x) * 3);
  }

  rect(x: number, y: number, w: number, h: number, c: RGB): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x + i, y + j, c);
  }

  /** Outline of a rectangle. */
  box(x: number, y: number, w: number, h: number, c: RGB): void {
    this.line(x, y, x + w, y, c);
    this.line(x, y + h, x + w, y + h, c);
    this.line(x, y, x, y + h, c);
    this.line(x + w, y, x + w, y + h, c);
  }

  /** A line of the given thickness (square brush). */
  line(x0: number, y0: number, x1: number, y1: number, c: RGB, thickness = 1): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const r = Math.floor((thickness - 1) / 2);
    for (let s = 0; s <= n; s++) {
      const x = x0 + ((x1 - x0) * s) / n;
      const y = y0 + ((y1 - y0) * s) / n;
      for (let dy = -r; dy <= thickness - 1 - r; dy++) for (let dx = -r; dx <= thickness - 1 - r; dx++) this.set(x + dx, y + dy, c);
    }
  }

  /** A uint8 image (1 or ≥ 3 channels) at (x, y), each pixel a scale×scale block. */
  image(img: Image, x: number, y: number, scale = 1): void {
    for (let j = 0; j < img.h * scale; j++) {
      for (let i = 0; i < img.w * scale; i++) {
        const p = (Math.floor(j / scale) * img.w + Math.floor(i / scale)) * img.c;
        const d = img.data;
        this.set(x + i, y + j, img.c >= 3 ? [d[p]!, d[p + 1]!, d[p + 2]!] : [d[p]!, d[p]!, d[p]!]);
      }
    }
  }

  /** Text in the 3×5 font (upper-cased; unknown characters become '?'-less blanks), `scale` px per font pixel. */
  text(s: string, x: number, y: number, c: RGB = COLORS.black, scale = 2): void {
    let cx = x;
    for (const ch of s.toUpperCase()) {
      const g = GLYPHS[ch] ?? GLYPHS[' ']!;
      const rows = g.split(' ');
      rows.forEach((row, j) => [...row].forEach((v, i) => v === '#' && this.rect(cx + i * scale, y + j * scale, scale, scale, c)));
      cx += 4 * scale;
    }
  }

  static textWidth(s: string, scale = 2): number {
    return s.length * 4 * scale - scale;
  }

  png(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    for (let i = 0; i < this.width * this.height; i++) {
      png.data[i * 4] = this.data[i * 3]!;
      png.data[i * 4 + 1] = this.data[i * 3 + 1]!;
      png.data[i * 4 + 2] = this.data[i * 3 + 2]!;
      png.data[i * 4 + 3] = 255;
    }
    return PNG.sync.write(png);
  }
}

export interface Series {
  label: string;
  color: RGB;
  /** (x, y) points; NaN y values are skipped */
  points: [number, number][];
  /** x values to mark with a red cross (e.g. collapsed epochs) */
  marks?: number[];
}

/** A compact number for axis labels. */
export function axisNumber(v: number): string {
  if (!Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e4 || a < 1e-3)) return v.toExponential(1).replace('e', 'E');
  return String(Number(v.toPrecision(3)));
}

/**
 * "Nice" axis ticks between lo and hi: multiples of 1, 2 or 5 × 10^k, about `n` of them (at least
 * the two ends' neighbourhood is covered: the first tick ≥ lo, the last ≤ hi).
 */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((st) => st >= raw)!;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

/**
 * A line plot panel drawn into `cv` at (x, y): a title, a frame with grid lines at nice ticks on
 * both axes (labelled), the x-axis label under the tick labels, and a legend on the bottom row.
 * `xMin` / `xMax` / `yMin` / `yMax` fix the ranges (panels of one figure share the x range).
 */
export function linePlot(cv: Canvas, x: number, y: number, w: number, h: number, title: string, series: Series[], opts: { xMin?: number; xMax?: number; yMin?: number; yMax?: number; xLabel?: string } = {}): void {
  const all = series.flatMap((s) => s.points).filter(([, v]) => Number.isFinite(v));
  const xs = all.map(([a]) => a);
  let x0 = opts.xMin ?? (xs.length ? Math.min(...xs) : 0);
  let x1 = opts.xMax ?? (xs.length ? Math.max(...xs) : 1);
  if (x1 === x0) {
    x0 -= 0.5;
    x1 += 0.5;
  }
  let y0 = opts.yMin ?? (all.length ? Math.min(...all.map(([, v]) => v)) : 0);
  let y1 = opts.yMax ?? (all.length ? Math.max(...all.map(([, v]) => v)) : 1);
  if (y1 === y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const yTicks = niceTicks(y0, y1, 4);
  const xTicks = niceTicks(x0, x1, 5);
  const left = x + 8 + Math.max(...yTicks.map((t) => Canvas.textWidth(axisNumber(t)))) + 4;
  const top = y + 22;
  const pw = x + w - 12 - left;
  const ph = h - 66;
  const px = (v: number) => left + ((v - x0) / (x1 - x0)) * pw;
  const py = (v: number) => top + ph - ((Math.min(y1, Math.max(y0, v)) - y0) / (y1 - y0)) * ph;
  cv.text(title, x + Math.max(0, (w - Canvas.textWidth(title)) / 2), y + 4);
  for (const t of yTicks) {
    const ty = Math.round(py(t));
    if (t !== y0 && t !== y1) cv.line(left, ty, left + pw, ty, COLORS.light);
    cv.line(left - 3, ty, left, ty, COLORS.black);
    const label = axisNumber(t);
    cv.text(label, left - 5 - Canvas.textWidth(label), Math.min(top + ph - 8, Math.max(top, ty - 4)));
  }
  for (const t of xTicks) {
    const tx = Math.round(px(t));
    cv.line(tx, top + ph, tx, top + ph + 3, COLORS.black);
    const label = axisNumber(t);
    cv.text(label, Math.min(x + w - 2 - Canvas.textWidth(label), Math.max(x, tx - Canvas.textWidth(label) / 2)), top + ph + 6);
  }
  cv.box(left, top, pw, ph, COLORS.black);
  if (opts.xLabel) cv.text(opts.xLabel, left + (pw - Canvas.textWidth(opts.xLabel)) / 2, top + ph + 20);
  for (const s of series) {
    const pts = s.points.filter(([, v]) => Number.isFinite(v));
    for (let i = 1; i < pts.length; i++) cv.line(px(pts[i - 1]![0]), py(pts[i - 1]![1]), px(pts[i]![0]), py(pts[i]![1]), s.color, 2);
    for (const [a, b] of pts) cv.rect(px(a) - 2, py(b) - 2, 5, 5, s.color);
    for (const m of s.marks ?? []) {
      const p = pts.find(([a]) => a === m);
      if (!p) continue;
      const [cx, cy] = [px(p[0]), py(p[1])];
      cv.line(cx - 5, cy - 5, cx + 5, cy + 5, COLORS.red, 2);
      cv.line(cx - 5, cy + 5, cx + 5, cy - 5, COLORS.red, 2);
    }
  }
  // legend, bottom row
  let lx = left;
  const ly = top + ph + 34;
  for (const s of series) {
    if (lx + 14 + Canvas.textWidth(s.label) > x + w) break;
    cv.rect(lx, ly + 2, 10, 6, s.color);
    cv.text(s.label, lx + 14, ly);
    lx += 24 + Canvas.textWidth(s.label);
  }
}
