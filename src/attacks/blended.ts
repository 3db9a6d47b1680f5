/**
 * Blended (docs/attacks.md): x' = (1 − α)·x + α·pattern on [0,1] floats over every pixel and
 * channel, α = 0.1, the same full-frame pattern for training (rate 0.1, relabelled to the target)
 * and test. Computed in float and rounded back to uint8 (≤ 0.5/255 from the official on-the-fly
 * pipeline).
 *
 * Pattern: the official code blends `kitty.png` (a Hello Kitty picture), which cannot be shipped.
 * Substitute: a procedurally drawn, fully deterministic cartoon — a white-faced head
 * with black line-art outline, ears, eyes, whiskers, a red bow with a yellow knot, a pink dress and
 * a few seeded yellow/pink/red flowers — on a white background. It is defined in continuous
 * [0,1]² coordinates and rendered at any H×W with 4×4 supersampling per pixel (= an antialiased
 * resize of an infinitely sharp drawing), so it is the same picture at 28, 32 or 224 px. Its
 * statistics follow those of the original (113×113 kitty.png: ~63% near-white,
 * ~13% near-black, mean (0.81, 0.75, 0.78), std ≈ 0.35); measured at 113×113 this substitute has
 * 67% near-white (all channels > 0.85), 14% near-black (all < 0.2), the rest saturated
 * pink/red/yellow, mean (0.82, 0.75, 0.77), std ≈ (0.33, 0.36, 0.35) — checked by the tests —
 * with large-scale structure spanning the frame, not class-correlated. Grey images blend the
 * pattern's luminance.
 */
import type { Image } from '../data/augment.js';
import type { ImageDataset } from '../data/dataset.js';
import { Rng } from '../util/random.js';
import {
  type AttackFactory,
  type ImageShape,
  BaseAttack,
  blend,
  checkDatasetShape,
  checkRate,
  choosePoisoned,
  DEFAULT_SEED,
  poisonCopy,
  registerAttack,
  toChannels,
} from './common.js';

type RGB = [number, number, number];

const WHITE: RGB = [0.99, 0.98, 0.98];
const BLACK: RGB = [0.06, 0.05, 0.06];
const PINK: RGB = [0.98, 0.55, 0.75];
const RED: RGB = [0.9, 0.1, 0.22];
const YELLOW: RGB = [1.0, 0.85, 0.2];

interface Shape {
  /** signed "distance-like" value: < 0 inside, in units of the frame */
  sd: (u: number, v: number) => number;
  fill: RGB | null;
  /** outline half-thickness (frame units), 0 = none */
  line: number;
}

function ellipse(cu: number, cv: number, ru: number, rv: number, fill: RGB | null, line: number, rot = 0): Shape {
  const co = Math.cos(rot);
  const si = Math.sin(rot);
  const r = Math.min(ru, rv);
  return {
    // scaled implicit function: ≈ Euclidean distance near the boundary for moderate eccentricity
    sd: (u, v) => {
      const du = u - cu;
      const dv = v - cv;
      const a = (co * du + si * dv) / ru;
      const b = (-si * du + co * dv) / rv;
      return (Math.sqrt(a * a + b * b) - 1) * r;
    },
    fill,
    line,
  };
}

function segment(u0: number, v0: number, u1: number, v1: number, half: number): Shape {
  const du = u1 - u0;
  const dv = v1 - v0;
  const len2 = du * du + dv * dv;
  return {
    sd: (u, v) => {
      const t = Math.max(0, Math.min(1, ((u - u0) * du + (v - v0) * dv) / len2));
      return Math.hypot(u - u0 - t * du, v - v0 - t * dv) - half;
    },
    fill: BLACK,
    line: 0,
  };
}

/** The drawing: shapes painted in order (later on top). */
function cartoon(seed: number): Shape[] {
  const r = new Rng(seed);
  const L = 0.013; // line half-thickness
  const shapes: Shape[] = [];
  // background decoration: seeded flowers (drawn first, partly hidden by the character)
  const fills = [YELLOW, PINK, RED, YELLOW, PINK];
  for (let k = 0; k < 7; k++) {
    let cu: number;
    let cv: number;
    do {
      cu = r.uniform(0.06, 0.94);
      cv = r.uniform(0.06, 0.94);
    } while (Math.hypot(cu - 0.5, cv - 0.52) < 0.42);
    const rad = r.uniform(0.045, 0.075);
    shapes.push(ellipse(cu, cv, rad, rad, fills[k % fills.length]!, L * 0.8));
    shapes.push(ellipse(cu, cv, rad * 0.35, rad * 0.35, k % 2 ? YELLOW : RED, 0));
  }
  // dress (bottom, cut by the frame)
  shapes.push(ellipse(0.5, 1.02, 0.3, 0.2, PINK, L));
  // ears
  shapes.push(ellipse(0.24, 0.26, 0.1, 0.13, WHITE, L, -0.5));
  shapes.push(ellipse(0.76, 0.26, 0.1, 0.13, WHITE, L, 0.5));
  // head
  shapes.push(ellipse(0.5, 0.52, 0.37, 0.29, WHITE, L));
  // bow on the right ear
  shapes.push(ellipse(0.68, 0.2, 0.1, 0.075, RED, L, 0.4));
  shapes.push(ellipse(0.86, 0.3, 0.1, 0.075, RED, L, 0.4));
  shapes.push(ellipse(0.77, 0.25, 0.045, 0.045, YELLOW, L));
  // eyes, nose
  shapes.push(ellipse(0.37, 0.52, 0.028, 0.045, BLACK, 0));
  shapes.push(ellipse(0.63, 0.52, 0.028, 0.045, BLACK, 0));
  shapes.push(ellipse(0.5, 0.6, 0.045, 0.032, YELLOW, L * 0.8));
  // whiskers
  for (const s of [-1, 1]) {
    for (const dv of [-0.04, 0, 0.04]) shapes.push(segment(0.5 + s * 0.2, 0.6 + dv, 0.5 + s * 0.36, 0.6 + dv * 1.8, L * 0.55));
  }
  return shapes;
}

function colourAt(shapes: Shape[], u: number, v: number): RGB {
  let c: RGB = WHITE;
  for (const s of shapes) {
    const d = s.sd(u, v);
    if (s.line > 0 && Math.abs(d) <= s.line) c = BLACK;
    else if (d < 0 && s.fill) c = s.fill;
  }
  return c;
}

export const BLENDED_PATTERN_SEED = 20250117;

/** The substitute pattern as H·W·3 floats in [0, 1] (RGB). */
export function blendedPattern(h: number, w: number, seed = BLENDED_PATTERN_SEED, supersample = 4): Float32Array {
  const shapes = cartoon(seed);
  const out = new Float32Array(h * w * 3);
  const S = supersample;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const acc = [0, 0, 0];
      for (let sy = 0; sy < S; sy++) {
        for (let sx = 0; sx < S; sx++) {
          const c = colourAt(shapes, (x + (sx + 0.5) / S) / w, (y + (sy + 0.5) / S) / h);
          acc[0] += c[0];
          acc[1] += c[1];
          acc[2] += c[2];
        }
      }
      for (let k = 0; k < 3; k++) out[(y * w + x) * 3 + k] = acc[k]! / (S * S);
    }
  }
  return out;
}

export interface BlendedOptions {
  target: number;
  seed: number;
  rate: number;
  /** blend weight α */
  alpha: number;
  /** seed of the cartoon (fixed: the pattern does not depend on the run's seed) */
  patternSeed: number;
}

export const BLENDED_DEFAULTS: BlendedOptions = { target: 0, seed: DEFAULT_SEED, rate: 0.1, alpha: 0.1, patternSeed: BLENDED_PATTERN_SEED };

export class Blended extends BaseAttack<BlendedOptions> {
  /** H·W·C in [0, 1], adapted to the channel count */
  readonly pattern: Float32Array;
  constructor(shape: ImageShape, opts?: Record<string, unknown>) {
    super('blended', shape, BLENDED_DEFAULTS, opts);
    checkRate(this.name, 'rate', this.opts.rate);
    checkRate(this.name, 'alpha', this.opts.alpha);
    this.pattern = toChannels(blendedPattern(shape.h, shape.w, this.opts.patternSeed), shape.h, shape.w, shape.c);
  }
  async poisonTrain(train: ImageDataset) {
    checkDatasetShape(this, train);
    const poisoned = choosePoisoned(train.n, this.opts.rate, new Rng(this.opts.seed));
    const dataset = poisonCopy(train, `${train.name}+${this.name}`, poisoned, (img) => this.applyTestTrigger(img), this.target);
    return { dataset, poisoned };
  }
  applyTestTrigger(img: Image): Image {
    return blend(img, this.pattern, this.opts.alpha);
  }
  params() {
    const { h, w, c } = this.shape;
    return {
      attack: this.name,
      ...this.opts,
      shape: this.shape,
      pattern: 'procedural cartoon substitute for kitty.png (src/attacks/blended.ts, blendedPattern)',
      // the pattern as uint8 (H·W·C) when small enough to be worth storing
      patternUint8: h * w * c <= 32 * 32 * 3 ? Array.from(this.pattern, (v) => Math.round(v * 255)) : undefined,
    };
  }
}

export const blended: AttackFactory = {
  name: 'blended',
  summary: 'Blended: full-frame cartoon pattern blended with alpha 0.1, rate 0.1',
  create: (shape, opts) => new Blended(shape, opts),
};
registerAttack(blended);
