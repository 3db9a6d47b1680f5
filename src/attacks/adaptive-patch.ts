/**
 * Adaptive-Patch (docs/attacks.md): four weak patch triggers blended on [0,1] floats,
 * x' = (1 − α·m)⊙x + α·m⊙trigger with m = the trigger's support (pixels where any channel > 0;
 * black pixels are transparent). Training set: a seeded shuffle; the first floor(N·0.01) samples are
 * **poison** (trigger, label → target), the next floor(N·0.02) are **cover** (trigger, label kept);
 * the k-th sample of each list gets trigger k mod 4, with train alphas (0.5, 0.5, 0.2, 0.3). Test:
 * the first two triggers at α = 1 on every non-target image, badnet_patch4 applied first and
 * phoenix_corner on top (as the official code stacks them).
 *
 * Trigger images: the official 32×32 PNGs (phoenix_corner, badnet_patch4, firefox_corner,
 * trojan_square) are not ours to ship; these are deterministic substitutes with the positions,
 * sizes, supports and rough colours of the official PNGs:
 *  - phoenix_corner: 5×5 fully non-zero light-blue/white patch at rows/cols 27–31 (seeded mix
 *    between (130,175,235) and (230,233,253): mean ≈ (180,204,244));
 *  - badnet_patch4: 16 pure-white pixels, 4 per corner at the official PNG's exact coordinates;
 *  - firefox_corner: an orange disc (radius 6.5 about (7, 24), plus 3 pixels at the box's top-left
 *    corner = 140 pixels) with a blue-violet "globe" inside, within rows 1–13, cols 18–30; mean
 *    ≈ (192,114,82);
 *  - trojan_square: 8×8 seeded multi-coloured texture (every channel 1–255) at rows/cols 21–28.
 * Other image sizes use a nearest-neighbour resize (half-pixel centres) of the 32×32 triggers,
 * which keeps the supports crisp (224 = exact 7× blocks; at 28 the corner pixels survive). Grey
 * images blend the luminance; the support comes from the colour trigger.
 *
 * Computed in float and rounded back to uint8 (≤ 0.5/255 deviation from the official pipeline).
 * Rates 0.01 / 0.02 follow the official code for ResNet-18 on every dataset (the paper says
 * 0.03 / 0.06 for ImageNet: options `poisonRate`, `coverRate`). The original Adaptive-Patch repo
 * assigns triggers in contiguous blocks and tests with `phoenix_corner2`; the REFINE code (followed
 * here) uses round-robin and phoenix_corner.
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
  DEFAULT_SEED,
  poisonCopy,
  registerAttack,
  resizeNearest,
  shuffledIndices,
  toChannels,
} from './common.js';

export const ADAPTIVE_TRIGGER_NAMES = ['phoenix_corner', 'badnet_patch4', 'firefox_corner', 'trojan_square'] as const;

/** The four substitute triggers as 32×32×3 uint8 RGB images (black = transparent). */
export function adaptiveTriggers32(): Uint8Array[] {
  const S = 32;
  const make = () => new Uint8Array(S * S * 3);
  const set = (t: Uint8Array, y: number, x: number, rgb: number[]) => t.set(rgb.map((v) => Math.max(1, Math.min(255, Math.round(v)))), (y * S + x) * 3);

  const phoenix = make();
  const r1 = new Rng(0x9f0e41c5);
  for (let y = 27; y < 32; y++) {
    for (let x = 27; x < 32; x++) {
      const t = r1.next();
      set(phoenix, y, x, [130 + 100 * t, 175 + 58 * t, 235 + 18 * t]);
    }
  }

  const badnet = make();
  const corners = [
    [0, 0], [0, 2], [1, 1], [2, 0],
    [0, 29], [0, 31], [1, 30], [2, 31],
    [29, 0], [30, 1], [31, 0], [31, 2],
    [29, 31], [30, 30], [31, 29], [31, 31],
  ];
  for (const [y, x] of corners) set(badnet, y!, x!, [255, 255, 255]);

  const firefox = make();
  const cy = 7;
  const cx = 24;
  for (let y = 1; y <= 13; y++) {
    for (let x = 18; x <= 30; x++) {
      const d = Math.hypot(y - cy, x - cx);
      const inDisc = d <= 6.5;
      const tail = (y === 1 && (x === 18 || x === 19)) || (y === 2 && x === 18);
      if (!inDisc && !tail) continue;
      // globe: a disc of radius 3.45 (≈ 28% of the pixels) shifted towards the lower left
      const globe = Math.hypot(y - cy - 0.5, x - cx + 0.5) <= 3.45;
      const shade = 1 - 0.12 * (d / 6.5);
      set(firefox, y, x, globe ? [95 * shade, 80 * shade, 175 * shade] : [232 * shade + 10, 128 * shade + 5, 46 * shade + 3]);
    }
  }

  const trojan = make();
  const r2 = new Rng(0x7e0a5);
  for (let y = 21; y <= 28; y++) for (let x = 21; x <= 28; x++) set(trojan, y, x, [1 + r2.int(255), 1 + r2.int(255), 1 + r2.int(255)]);

  return [phoenix, badnet, firefox, trojan];
}

export interface AdaptiveTrigger {
  name: string;
  /** H·W·C in [0, 1] */
  pattern: Float32Array;
  /** H·W support (1 where any channel of the colour trigger > 0) */
  mask: Float32Array;
}

/** The triggers at H×W×C (nearest resize from 32×32, channel adaptation, supports). */
export function adaptiveTriggers(h: number, w: number, c: number): AdaptiveTrigger[] {
  return adaptiveTriggers32().map((t32, i) => {
    const rgb = resizeNearest(Float32Array.from(t32, (v) => v / 255), 32, 32, 3, h, w);
    const mask = new Float32Array(h * w);
    for (let p = 0; p < h * w; p++) mask[p] = rgb[3 * p]! > 0 || rgb[3 * p + 1]! > 0 || rgb[3 * p + 2]! > 0 ? 1 : 0;
    return { name: ADAPTIVE_TRIGGER_NAMES[i]!, pattern: toChannels(rgb, h, w, c), mask };
  });
}

export interface AdaptivePatchOptions {
  target: number;
  seed: number;
  poisonRate: number;
  coverRate: number;
  trainAlphas: number[];
  testAlpha: number;
  /** triggers used at test time, applied in this order (later on top) */
  testTriggers: number[];
}

export const ADAPTIVE_DEFAULTS: AdaptivePatchOptions = {
  target: 0,
  seed: DEFAULT_SEED,
  poisonRate: 0.01,
  coverRate: 0.02,
  trainAlphas: [0.5, 0.5, 0.2, 0.3],
  testAlpha: 1,
  testTriggers: [1, 0],
};

export class AdaptivePatch extends BaseAttack<AdaptivePatchOptions> {
  readonly triggers: AdaptiveTrigger[];
  constructor(shape: ImageShape, opts?: Record<string, unknown>) {
    super('adaptive', shape, ADAPTIVE_DEFAULTS, opts);
    checkRate(this.name, 'poisonRate + coverRate', this.opts.poisonRate + this.opts.coverRate);
    checkRate(this.name, 'poisonRate', this.opts.poisonRate);
    checkRate(this.name, 'coverRate', this.opts.coverRate);
    if (this.opts.trainAlphas.length !== 4) throw new Error('adaptive: trainAlphas must hold 4 values');
    this.opts.trainAlphas.forEach((a) => checkRate(this.name, 'trainAlphas[i]', a));
    if (this.opts.testTriggers.some((t) => !(t >= 0 && t < 4))) throw new Error('adaptive: testTriggers must be indices in 0..3');
    this.triggers = adaptiveTriggers(shape.h, shape.w, shape.c);
  }
  /** Trigger k at weight α (new image). */
  applyTrigger(img: Image, k: number, alpha: number): Image {
    const t = this.triggers[k]!;
    return blend(img, t.pattern, alpha === 1 ? t.mask : t.mask.map((m) => m * alpha));
  }
  /** The training trigger of the k-th sample of the poison/cover list. */
  trainTrigger(img: Image, k: number): Image {
    return this.applyTrigger(img, k % 4, this.opts.trainAlphas[k % 4]!);
  }
  async poisonTrain(train: ImageDataset) {
    checkDatasetShape(this, train);
    const order = shuffledIndices(train.n, new Rng(this.opts.seed));
    const nP = Math.floor(train.n * this.opts.poisonRate + 1e-9);
    const nC = Math.floor(train.n * this.opts.coverRate + 1e-9);
    const poisonList = order.slice(0, nP);
    const coverList = order.slice(nP, nP + nC);
    let dataset = poisonCopy(train, `${train.name}+${this.name}`, poisonList, (img, k) => this.trainTrigger(img, k), this.target);
    dataset = poisonCopy(dataset, dataset.name, coverList, (img, k) => this.trainTrigger(img, k), null);
    return { dataset, poisoned: poisonList.slice().sort(), cover: coverList.slice().sort(), poisonOrder: poisonList, coverOrder: coverList };
  }
  applyTestTrigger(img: Image): Image {
    return this.opts.testTriggers.reduce((im, k) => this.applyTrigger(im, k, this.opts.testAlpha), img);
  }
  params() {
    return {
      attack: this.name,
      ...this.opts,
      shape: this.shape,
      triggerNames: ADAPTIVE_TRIGGER_NAMES,
      triggers: 'deterministic substitutes (src/attacks/adaptive-patch.ts, adaptiveTriggers32)',
      // the 32×32×3 RGB substitutes as (row, col, r, g, b) lists of their non-zero pixels
      triggerPixels: adaptiveTriggers32().map((t) => {
        const px: number[][] = [];
        for (let p = 0; p < 32 * 32; p++) if (t[3 * p]! || t[3 * p + 1]! || t[3 * p + 2]!) px.push([Math.floor(p / 32), p % 32, t[3 * p]!, t[3 * p + 1]!, t[3 * p + 2]!]);
        return px;
      }),
    };
  }
}

export const adaptivePatch: AttackFactory = {
  name: 'adaptive',
  aliases: ['adaptive-patch', 'adaptivepatch', 'adap-patch'],
  summary: 'Adaptive-Patch: 4 weak patch triggers (alpha .5/.5/.2/.3), 1% poison + 2% cover; test: 2 triggers at alpha 1',
  create: (shape, opts) => new AdaptivePatch(shape, opts),
};
registerAttack(adaptivePatch);
