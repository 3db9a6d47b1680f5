/**
 * Black-box REFINE (docs/method.md, "Black-box REFINE"; the paper's App. E): the defender sees the
 * suspicious model only through its probability vectors. A surrogate is distilled from the black
 * box on the unlabeled images (train/distill.ts), REFINE is trained against the surrogate, and the
 * UNet and mapping are deployed in front of the black box: predict(x) = M(F(quantise(T(x)))), T(x)
 * sent to the black box as an 8-bit image like any other input.
 *
 * The black box normalises its inputs itself, so REFINE must train with `renormalize` (T(x)
 * normalised before the surrogate, as the black box will do with it); without it the surrogate
 * would see T(x) in [0, 1] and the black box its normalised version.
 */
import { noGrad } from '../autograd/tape.js';
import { scope } from '../tensor/scope.js';
import { tensor } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import { batches } from '../data/loader.js';
import { argmaxRows, type BlackBox } from '../train/blackbox.js';
import { distillSurrogate, queryAll, type DistillLog } from '../train/distill.js';
import type { TrainConfig } from '../train/trainer.js';
import type { ProgressFactory } from '../train/loop.js';
import type { RunStore } from '../train/run-state.js';
import type { UNet } from '../nn/unet.js';
import { trainRefine, type RefineConfig, type RefineEpochLog } from './train.js';

/** REFINE's UNet and mapping in front of a black box. */
export class BlackBoxDefense {
  constructor(
    readonly unet: UNet,
    readonly perm: Int32Array,
    readonly blackBox: BlackBox,
    /** the normalisation T's input gets (the defender's choice, as in training) */
    readonly normalization: Normalization | null,
  ) {}

  /** T(x) of every image of `ds` as the 8-bit images the black box receives (no query). */
  async *transformedBatches(ds: ImageDataset, batchSize = 256): AsyncGenerator<{ images: Uint8Array; n: number }> {
    this.unet.eval();
    for (const b of batches(ds, 0, { batchSize, normalization: this.normalization })) {
      const t = noGrad(() => scope(() => this.unet.forward(tensor(b.x, b.shape))));
      const v = (await t.read()) as Float32Array;
      t.dispose();
      // clamped to [0, 1] like DefendedModel.transform
      yield { images: Uint8Array.from(v, (x) => Math.round(255 * Math.min(1, Math.max(0, x)))), n: b.shape[0] };
    }
  }

  /** `ds` with every image replaced by T(x) as the black box receives it (no query). */
  async transformed(ds: ImageDataset): Promise<ImageDataset> {
    const out = new Uint8Array(ds.images.length);
    let off = 0;
    for await (const { images } of this.transformedBatches(ds)) {
      out.set(images, off);
      off += images.length;
    }
    return { ...ds, name: `T(${ds.name})`, images: out };
  }

  /** Remapped probabilities [n, k] of the images of `ds` (each image costs one black-box query). */
  async probabilities(ds: ImageDataset, batchSize = 256): Promise<Float32Array> {
    const k = this.blackBox.numClasses;
    const out = new Float32Array(ds.n * k);
    let off = 0;
    for await (const { images, n } of this.transformedBatches(ds, batchSize)) {
      const p = await this.blackBox.query({ images, n, h: ds.h, w: ds.w, c: ds.c });
      for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) out[(off + i) * k + this.perm[j]!] = p[i * k + j]!;
      off += n;
    }
    return out;
  }

  /** The defended predictions on `ds`. */
  async predict(ds: ImageDataset): Promise<Int32Array> {
    return argmaxRows(await this.probabilities(ds), this.blackBox.numClasses);
  }
}

export interface BlackBoxRefineOptions {
  normalization: Normalization;
  /** the teacher's probabilities when already queried (a resumed run); queried here otherwise */
  teacher?: Float32Array;
  distillStore?: RunStore;
  refineStore?: RunStore;
  progress?: ProgressFactory;
  quiet?: boolean;
  /** evaluated after each REFINE epoch against the surrogate (BA of the surrogate-defended model) */
  evalSet?: ImageDataset;
  /**
   * REFINE's configuration, chosen once the surrogate is distilled (in place of `refine`): the
   * pipeline's augmentation guard checks the surrogate here, whose pseudo-labels REFINE trains on
   */
  configure?: (surrogate: Module) => Promise<RefineConfig>;
}

export interface BlackBoxRefineResult {
  defense: BlackBoxDefense;
  surrogate: Module;
  teacher: Float32Array;
  distill: DistillLog[];
  refine: RefineEpochLog[];
  /** black-box queries spent on the distillation (the evaluation's are counted by the black box) */
  distillQueries: number;
}

/**
 * Black-box REFINE: distils `surrogate` from `bb` on `unlabeled` (one query per image), trains
 * REFINE against it (`refine.renormalize` must be set, see above) and returns the defense in
 * front of `bb`.
 */
export async function blackBoxRefine(bb: BlackBox, surrogate: Module, unlabeled: ImageDataset, distill: TrainConfig, refine: RefineConfig, o: BlackBoxRefineOptions): Promise<BlackBoxRefineResult> {
  if (!refine.renormalize) throw new Error('black-box REFINE: the black box normalises its own inputs, so REFINE must train with renormalize (T(x) normalised before the surrogate)');
  const before = bb.queries;
  const teacher = o.teacher ?? (await queryAll(bb, unlabeled));
  const distillQueries = bb.queries - before;
  const dlog = await distillSurrogate(surrogate, unlabeled, teacher, distill, { normalization: o.normalization, store: o.distillStore, progress: o.progress, quiet: o.quiet });
  if (o.configure) {
    refine = await o.configure(surrogate);
    if (!refine.renormalize) throw new Error('black-box REFINE: the configuration chosen after the distillation lacks renormalize');
  }
  const res = await trainRefine(surrogate, unlabeled, refine, { normalization: o.normalization, numClasses: bb.numClasses, store: o.refineStore, progress: o.progress, quiet: o.quiet, evalSet: o.evalSet });
  return { defense: new BlackBoxDefense(res.defended.unet, res.defended.perm, bb, o.normalization), surrogate, teacher, distill: dlog, refine: res.history, distillQueries };
}
