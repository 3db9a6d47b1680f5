/**
 * PhysicalBA (docs/attacks.md): the BadNets trigger (same patch, rate 0.1, relabelled to the
 * target) and, at training time, "physical" distortions applied to **every** training sample
 * (benign and poisoned) after the normal transform: RandomHorizontalFlip(0.5) →
 * ColorJitter(brightness 0.1: ×U[0.9, 1.1], clamp) → RandomAffine(±10°, translate ±0.1·W/H px
 * integer-rounded, scale U[0.8, 0.9], no shear, nearest, fill 0 = black). The test trigger is plain
 * BadNets, no distortion; the benign test set is untouched.
 *
 * Deviation: the official code de-normalises, distorts in float and re-normalises; here the
 * distortions run on the uint8 image in the loader's `sampleTransform` (brightness rounded to
 * uint8: ≤ 0.5/255). The BackdoorBox test script's variant (brightness 0.2, contrast 0.2, rate
 * 0.05) is reachable through the options `brightness` and `rate` (contrast is not implemented).
 */
import type { Image } from '../data/augment.js';
import { flipH } from '../data/augment.js';
import type { ImageDataset } from '../data/dataset.js';
import type { Rng } from '../util/random.js';
import { BADNETS_DEFAULTS, BadNets, type BadNetsOptions } from './badnets.js';
import { type AttackFactory, type ImageShape, type PoisonedTrain, registerAttack } from './common.js';
import { brightness, randomAffine } from '../data/geometry.js';

export interface PhysicalBAOptions extends BadNetsOptions {
  flip: number;
  brightness: number;
  degrees: number;
  translate: number;
  scaleLo: number;
  scaleHi: number;
}

export const PHYSICAL_DEFAULTS: PhysicalBAOptions = {
  ...BADNETS_DEFAULTS,
  flip: 0.5,
  brightness: 0.1,
  degrees: 10,
  translate: 0.1,
  scaleLo: 0.8,
  scaleHi: 0.9,
};

/** BadNets' trigger, poisoning and test set, plus the physical distortions at training time. */
export class PhysicalBA extends BadNets<PhysicalBAOptions> {
  constructor(shape: ImageShape, opts?: Record<string, unknown>) {
    super(shape, opts, 'physicalba', PHYSICAL_DEFAULTS);
  }
  /** The physical distortions (every training sample). */
  readonly physical = (img: Image, _index: number, rng: Rng): Image => {
    const o = this.opts;
    let out = img;
    if (rng.next() < o.flip) out = flipH(out);
    if (o.brightness > 0) out = brightness(out, rng.uniform(1 - o.brightness, 1 + o.brightness));
    return randomAffine(out, { degrees: o.degrees, translate: [o.translate, o.translate], scale: [o.scaleLo, o.scaleHi] }, rng, 0);
  };
  override async poisonTrain(train: ImageDataset): Promise<PoisonedTrain> {
    return { ...(await super.poisonTrain(train)), sampleTransform: this.physical };
  }
}

export const physicalBA: AttackFactory = {
  name: 'physicalba',
  summary: 'PhysicalBA: BadNets trigger + flip/brightness/affine distortions on every training image',
  create: (shape, opts) => new PhysicalBA(shape, opts),
};
registerAttack(physicalBA);
