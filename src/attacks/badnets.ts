/**
 * BadNets (docs/attacks.md): a grey square pasted on the bottom-right corner of the uint8 image
 * (weight 1 there, 0 elsewhere ⇒ those pixels are replaced exactly), poisoned samples relabelled to
 * the target. Rate 0.1 of the training set (first floor(N·rate) of a seeded shuffle).
 *
 * Pattern: for images of at most 64 px per side the official 3×3 CIFAR-10 pattern (values decoded
 * from the official trigger file `CIFAR10_pattern.pth`); for larger images (ImageNet50, 224 px) the
 * official pattern file is not available, so a seeded random 20×20 grey uint8 patch is drawn (the
 * paper describes a 20×20 square). The same grey value goes to every channel (grey images
 * included).
 *
 * The patch and its placement are exported (`badnetsTrigger`) for PhysicalBA and Label-Consistent.
 */
import type { Image } from '../data/augment.js';
import type { ImageDataset } from '../data/dataset.js';
import { Rng } from '../util/random.js';
import {
  type AttackFactory,
  type ImageShape,
  type PoisonedTrain,
  BaseAttack,
  checkDatasetShape,
  checkRate,
  choosePoisoned,
  DEFAULT_SEED,
  poisonCopy,
  registerAttack,
} from './common.js';

/** The official 3×3 CIFAR-10 pattern (rows 29–31, cols 29–31 of the 32×32 trigger). */
export const BADNETS_CIFAR_PATCH = [
  [247, 241, 130],
  [106, 201, 92],
  [153, 163, 20],
];

export interface BadNetsTrigger {
  /** patch rows (grey values), size×size */
  patch: number[][];
  /** top-left corner of the patch */
  top: number;
  left: number;
}

/**
 * The BadNets trigger for an image size: the 3×3 official patch at the bottom-right corner when
 * max(H, W) ≤ 64, otherwise a seeded `largeSize`×`largeSize` random grey patch there.
 */
export function badnetsTrigger(h: number, w: number, seed: number, largeSize = 20): BadNetsTrigger {
  let patch: number[][];
  if (Math.max(h, w) <= 64) patch = BADNETS_CIFAR_PATCH.map((r) => [...r]);
  else {
    const rng = new Rng(seed ^ 0xbad0e75);
    patch = Array.from({ length: largeSize }, () => Array.from({ length: largeSize }, () => rng.int(256)));
  }
  const s = patch.length;
  if (s > h || s > w) throw new Error(`BadNets: a ${s}x${s} patch does not fit ${h}x${w} images`);
  return { patch, top: h - s, left: w - s };
}

/** Pastes the patch (new image). */
export function applyBadnets(img: Image, t: BadNetsTrigger): Image {
  const { w, c } = img;
  const out = new Uint8Array(img.data); // a copy (Buffer.slice would be a view)
  t.patch.forEach((row, dy) =>
    row.forEach((v, dx) => {
      const o = ((t.top + dy) * w + t.left + dx) * c;
      for (let k = 0; k < c; k++) out[o + k] = v;
    }),
  );
  return { ...img, data: out };
}

export interface BadNetsOptions {
  target: number;
  seed: number;
  rate: number;
  /** side of the seeded patch for images larger than 64 px */
  largePatch: number;
}

export const BADNETS_DEFAULTS: BadNetsOptions = { target: 0, seed: DEFAULT_SEED, rate: 0.1, largePatch: 20 };

/**
 * The BadNets attack; `name` and `defaults` let a variant that only adds options and a train-time
 * transform (PhysicalBA) reuse its trigger, poisoning and test set.
 */
export class BadNets<O extends BadNetsOptions = BadNetsOptions> extends BaseAttack<O> {
  readonly trigger: BadNetsTrigger;
  constructor(shape: ImageShape, opts?: Record<string, unknown>, name = 'badnets', defaults: O = BADNETS_DEFAULTS as O) {
    super(name, shape, defaults, opts);
    checkRate(this.name, 'rate', this.opts.rate);
    this.trigger = badnetsTrigger(shape.h, shape.w, this.opts.seed, this.opts.largePatch);
  }
  async poisonTrain(train: ImageDataset): Promise<PoisonedTrain> {
    checkDatasetShape(this, train);
    const poisoned = choosePoisoned(train.n, this.opts.rate, new Rng(this.opts.seed));
    const dataset = poisonCopy(train, `${train.name}+${this.name}`, poisoned, (img) => applyBadnets(img, this.trigger), this.target);
    return { dataset, poisoned };
  }
  applyTestTrigger(img: Image): Image {
    return applyBadnets(img, this.trigger);
  }
  params(): Record<string, unknown> {
    return { attack: this.name, ...(this.opts as BadNetsOptions), trigger: this.trigger, shape: this.shape };
  }
}

export const badnets: AttackFactory = {
  name: 'badnets',
  summary: 'BadNets: 3x3 grey patch bottom-right (20x20 seeded above 64 px), rate 0.1',
  create: (shape, opts) => new BadNets(shape, opts),
};
registerAttack(badnets);
