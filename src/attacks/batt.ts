/**
 * BATT (docs/attacks.md): the trigger is a fixed rotation by +16° (counter-clockwise about the
 * centre, nearest neighbour, same size, black fill: PIL `rotate(16)`), poisoned samples relabelled
 * to the target (train rate 0.1; every non-target test image).
 *
 * Training: the rotation comes after the whole transform (i.e. after the random flip), so the
 * store keeps the poisoned images unrotated (only their labels change) and the loader's
 * `sampleTransform` rotates them; benign training samples instead get RandomAffine(degrees = 10)
 * (rotation U[−10°, 10°], nearest) whose fill is 0 *in normalised space* in the official code,
 * i.e. the dataset mean colour: here round(255·mean) per channel (0 without normalisation).
 *
 * Deviation (an official-code quirk, implemented cleanly): the official code rotates the
 * already-normalised tensor through a uint8 PIL conversion that garbles negative values, so its
 * poisoned inputs are neither normalised nor faithful; here the [0,1] image is rotated (black fill)
 * and then normalised like every other input. Test images are rotated in the store (no flip at test
 * time).
 */
import type { Image } from '../data/augment.js';
import type { ImageDataset } from '../data/dataset.js';
import { Rng } from '../util/random.js';
import {
  type AttackContext,
  type AttackFactory,
  type ImageShape,
  BaseAttack,
  checkDatasetShape,
  checkRate,
  choosePoisoned,
  cloneDataset,
  DEFAULT_SEED,
  registerAttack,
} from './common.js';
import { randomAffine, rotateNearest } from '../data/geometry.js';

export interface BATTOptions {
  target: number;
  seed: number;
  rate: number;
  /** trigger rotation, degrees counter-clockwise */
  angle: number;
  /** RandomAffine degrees for benign training samples (0 = off) */
  benignDegrees: number;
}

export const BATT_DEFAULTS: BATTOptions = { target: 0, seed: DEFAULT_SEED, rate: 0.1, angle: 16, benignDegrees: 10 };

export class BATT extends BaseAttack<BATTOptions> {
  constructor(shape: ImageShape, opts?: Record<string, unknown>) {
    super('batt', shape, BATT_DEFAULTS, opts);
    checkRate(this.name, 'rate', this.opts.rate);
  }
  async poisonTrain(train: ImageDataset, ctx: AttackContext) {
    checkDatasetShape(this, train);
    const poisoned = choosePoisoned(train.n, this.opts.rate, new Rng(this.opts.seed));
    const dataset = cloneDataset(train, `${train.name}+${this.name}`);
    const isPoisoned = new Uint8Array(train.n);
    for (const i of poisoned) {
      dataset.labels[i] = this.target;
      isPoisoned[i] = 1;
    }
    const norm = ctx.normalization;
    const fill = Array.from({ length: this.shape.c }, (_, k) => (norm ? Math.round(255 * (norm.mean[k] ?? norm.mean[0]!)) : 0));
    const { angle, benignDegrees } = this.opts;
    const sampleTransform = (img: Image, index: number, rng: Rng): Image => {
      if (isPoisoned[index]) return rotateNearest(img, angle, 0);
      return benignDegrees > 0 ? randomAffine(img, { degrees: benignDegrees }, rng, fill) : img;
    };
    return { dataset, poisoned, sampleTransform };
  }
  applyTestTrigger(img: Image): Image {
    return rotateNearest(img, this.opts.angle, 0);
  }
  params() {
    return { attack: this.name, ...this.opts, shape: this.shape };
  }
}

export const batt: AttackFactory = {
  name: 'batt',
  summary: 'BATT: rotation by 16 degrees (after the train transform), rate 0.1; benign train images get RandomAffine(10)',
  create: (shape, opts) => new BATT(shape, opts),
};
registerAttack(batt);
