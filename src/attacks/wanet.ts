/**
 * WaNet (docs/attacks.md): an imperceptible, seeded warp of the image.
 *
 * Field (once, seeded): ins ~ U(−1,1)^{2×k×k}; ins ← ins / mean(|ins|); noise = bicubic upsample
 * of ins to H×W (align_corners = True, PyTorch's cubic convolution A = −0.75, border-clamped taps).
 * Identity grid: (x, y) = (linspace(−1,1,W)[j], linspace(−1,1,H)[i]).
 * Poison: grid = clamp((identity + s·noise/H)·grid_rescale, −1, 1); x' = grid_sample(x, grid,
 * bilinear, zero padding, align_corners = True), i.e. source pixel = (g + 1)/2·(size − 1).
 *
 * Defaults reproduce the REFINE experiments: k = image size (the official code calls
 * `gen_grid(img_size, img_size)`, so the upsampling is the identity and the field is an i.i.d.
 * per-pixel jitter of |displacement| ≤ ~0.48 px), s = 0.5, grid_rescale = 1, no noise mode, rate
 * 0.1, poisoned samples relabelled. `k: 4` gives the canonical WaNet (WaNet's own default; the
 * paper only says "default settings"; docs/attacks.md).
 *
 * Noise ("cross") mode (`noise: true`): the next floor(N·rate·crossRatio) shuffled samples get
 * the field plus a per-pixel U(−1,1)/H perturbation and keep their label (returned as `cover`).
 * Deviation: the official code draws that perturbation anew every epoch; the uint8 store draws it
 * once per sample (seeded).
 *
 * The warp is computed in float on the uint8 values and rounded back (≤ 0.5/255 deviation from
 * the official float pipeline). Divisions by H follow the official code (which assumes square
 * images); for non-square images both offsets are divided by H.
 */
import type { Image } from '../data/augment.js';
import type { ImageDataset } from '../data/dataset.js';
import { Rng } from '../util/random.js';
import {
  type AttackFactory,
  type ImageShape,
  BaseAttack,
  checkDatasetShape,
  checkRate,
  DEFAULT_SEED,
  poisonCopy,
  registerAttack,
  roundArray,
  shuffledIndices,
} from './common.js';

const CUBIC_A = -0.75;
function cubic1(x: number): number {
  return ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + 1;
}
function cubic2(x: number): number {
  return ((CUBIC_A * x - 5 * CUBIC_A) * x + 8 * CUBIC_A) * x - 4 * CUBIC_A;
}

/** Taps and weights of PyTorch's 1-D bicubic interpolation with align_corners = True. */
function bicubicTaps(inSize: number, outSize: number, dst: number): { idx: number[]; wt: number[] } {
  const scale = outSize > 1 ? (inSize - 1) / (outSize - 1) : 0;
  const real = scale * dst;
  const i0 = Math.floor(real);
  const t = real - i0;
  const wt = [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)];
  const idx = [-1, 0, 1, 2].map((d) => Math.min(inSize - 1, Math.max(0, i0 + d)));
  return { idx, wt };
}

/** Bicubic upsampling (align_corners = True) of a k_h×k_w×ch array to oh×ow×ch. */
export function bicubicResize(src: Float64Array | Float32Array, kh: number, kw: number, ch: number, oh: number, ow: number): Float64Array {
  const out = new Float64Array(oh * ow * ch);
  const ty = Array.from({ length: oh }, (_, y) => bicubicTaps(kh, oh, y));
  const tx = Array.from({ length: ow }, (_, x) => bicubicTaps(kw, ow, x));
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      for (let c = 0; c < ch; c++) {
        let v = 0;
        for (let a = 0; a < 4; a++) {
          let row = 0;
          for (let b = 0; b < 4; b++) row += tx[x]!.wt[b]! * src[(ty[y]!.idx[a]! * kw + tx[x]!.idx[b]!) * ch + c]!;
          v += ty[y]!.wt[a]! * row;
        }
        out[(y * ow + x) * ch + c] = v;
      }
    }
  }
  return out;
}

export interface WarpField {
  k: number;
  /** normalised control points ins / mean|ins|, k·k·2 (x, y) */
  ins: Float64Array;
  /** upsampled noise, H·W·2 (x, y) */
  noise: Float64Array;
  /** the sampling grid clamp((identity + s·noise/H)·rescale, −1, 1), H·W·2 (x, y) */
  grid: Float64Array;
}

export function wanetField(h: number, w: number, k: number, s: number, gridRescale: number, seed: number): WarpField {
  const rng = new Rng(seed);
  const ins = new Float64Array(k * k * 2);
  // PyTorch draws [1, 2, k, k] (channel-major); we store k·k·2, drawing in the same channel-major order
  for (let ch = 0; ch < 2; ch++) for (let p = 0; p < k * k; p++) ins[p * 2 + ch] = rng.uniform(-1, 1);
  let meanAbs = 0;
  for (const v of ins) meanAbs += Math.abs(v);
  meanAbs /= ins.length;
  for (let i = 0; i < ins.length; i++) ins[i]! /= meanAbs;
  const noise = k === h && k === w ? Float64Array.from(ins) : bicubicResize(ins, k, k, 2, h, w);
  const grid = new Float64Array(h * w * 2);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const ix = w > 1 ? -1 + (2 * x) / (w - 1) : 0;
      const iy = h > 1 ? -1 + (2 * y) / (h - 1) : 0;
      grid[2 * p] = Math.max(-1, Math.min(1, (ix + (s * noise[2 * p]!) / h) * gridRescale));
      grid[2 * p + 1] = Math.max(-1, Math.min(1, (iy + (s * noise[2 * p + 1]!) / h) * gridRescale));
    }
  }
  return { k, ins, noise, grid };
}

/** grid_sample(bilinear, zeros, align_corners = True) of a uint8 image, rounded back to uint8. */
export function warpImage(img: Image, grid: ArrayLike<number>): Image {
  const { h, w, c } = img;
  const out = new Uint8Array(img.data.length);
  const acc = new Float64Array(c);
  for (let p = 0; p < h * w; p++) {
    const fx = ((grid[2 * p]! + 1) / 2) * (w - 1);
    const fy = ((grid[2 * p + 1]! + 1) / 2) * (h - 1);
    const x0 = Math.floor(fx);
    const y0 = Math.floor(fy);
    const ax = fx - x0;
    const ay = fy - y0;
    acc.fill(0);
    for (let dy = 0; dy < 2; dy++) {
      const yy = y0 + dy;
      if (yy < 0 || yy >= h) continue;
      const wy = dy ? ay : 1 - ay;
      for (let dx = 0; dx < 2; dx++) {
        const xx = x0 + dx;
        if (xx < 0 || xx >= w) continue;
        const wgt = wy * (dx ? ax : 1 - ax);
        if (wgt === 0) continue;
        const i = (yy * w + xx) * c;
        for (let k = 0; k < c; k++) acc[k]! += wgt * img.data[i + k]!;
      }
    }
    for (let k = 0; k < c; k++) out[p * c + k] = Math.min(255, Math.round(acc[k]!));
  }
  return { data: out, h, w, c };
}

export interface WaNetOptions {
  target: number;
  seed: number;
  rate: number;
  /** control-grid size; null = image height (the REFINE experiments), 4 = canonical WaNet */
  k: number | null;
  /** warping strength s */
  s: number;
  gridRescale: number;
  noise: boolean;
  crossRatio: number;
}

export const WANET_DEFAULTS: WaNetOptions = { target: 0, seed: DEFAULT_SEED, rate: 0.1, k: null, s: 0.5, gridRescale: 1, noise: false, crossRatio: 2 };

export class WaNet extends BaseAttack<WaNetOptions> {
  readonly field: WarpField;
  constructor(shape: ImageShape, opts?: Record<string, unknown>) {
    super('wanet', shape, WANET_DEFAULTS, opts);
    checkRate(this.name, 'rate', this.opts.rate);
    const k = this.opts.k ?? shape.h;
    if (!(Number.isInteger(k) && k >= 2)) throw new Error(`wanet: k must be an integer ≥ 2, got ${this.opts.k}`);
    if (this.opts.noise) checkRate(this.name, 'rate·(1 + crossRatio)', this.opts.rate * (1 + this.opts.crossRatio));
    this.field = wanetField(shape.h, shape.w, k, this.opts.s, this.opts.gridRescale, this.opts.seed ^ 0x3a7e7);
  }
  async poisonTrain(train: ImageDataset) {
    checkDatasetShape(this, train);
    const rng = new Rng(this.opts.seed);
    const order = shuffledIndices(train.n, rng);
    const nPoison = Math.floor(train.n * this.opts.rate + 1e-9);
    const poisoned = order.slice(0, nPoison).sort();
    let dataset = poisonCopy(train, `${train.name}+${this.name}`, poisoned, (img) => warpImage(img, this.field.grid), this.target);
    if (!this.opts.noise) return { dataset, poisoned };
    const nCross = Math.floor(train.n * this.opts.rate * this.opts.crossRatio + 1e-9);
    const cover = order.slice(nPoison, nPoison + nCross).sort();
    const noiseRng = new Rng(this.opts.seed ^ 0xc055);
    const { h } = this.shape;
    dataset = poisonCopy(
      dataset,
      dataset.name,
      cover,
      (img) => {
        const g = this.field.grid.map((v) => Math.max(-1, Math.min(1, v + noiseRng.uniform(-1, 1) / h)));
        return warpImage(img, g);
      },
      null,
    );
    return { dataset, poisoned, cover };
  }
  applyTestTrigger(img: Image): Image {
    return warpImage(img, this.field.grid);
  }
  /** largest |displacement| in pixels of the poisoning grid */
  maxDisplacement(): number {
    const { h, w } = this.shape;
    let m = 0;
    for (let p = 0; p < h * w; p++) {
      const x = p % w;
      const y = Math.floor(p / w);
      const dx = ((this.field.grid[2 * p]! + 1) / 2) * (w - 1) - x;
      const dy = ((this.field.grid[2 * p + 1]! + 1) / 2) * (h - 1) - y;
      m = Math.max(m, Math.hypot(dx, dy));
    }
    return m;
  }
  params() {
    const { h, w } = this.shape;
    const small = h * w <= 64 * 64;
    return {
      attack: this.name,
      ...this.opts,
      k: this.field.k,
      fieldSeed: this.opts.seed ^ 0x3a7e7,
      shape: this.shape,
      maxDisplacementPx: this.maxDisplacement(),
      // k·k·2 control points (x, y) and the H·W·2 sampling grid (x, y), when small
      ins: this.field.k <= 64 ? roundArray(this.field.ins) : undefined,
      grid: small ? roundArray(this.field.grid) : undefined,
    };
  }
}

export const wanet: AttackFactory = {
  name: 'wanet',
  summary: 'WaNet: seeded warp field (k = image size by default, s 0.5), rate 0.1',
  create: (shape, opts) => new WaNet(shape, opts),
};
registerAttack(wanet);
