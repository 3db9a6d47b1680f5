/**
 * The black-box refit (docs/method.md, "Black-box REFINE", "The refit"; a deviation from the
 * paper, which deploys the UNet trained against the surrogate as it is). The surrogate is distilled
 * on natural images only, and REFINE's UNet learns to re-code them into images T(x) that the
 * surrogate reads as intended but the black box does not always read the same way (measured:
 * docs/reproduction.md, "Black-box REFINE"). The refit queries the black box once on T(x) of every
 * unlabeled image, distils the surrogate further on x and T(x) (a short constant-lr run), and
 * trains REFINE's last epochs of its schedule again from the finished UNet and mapping against the
 * refitted surrogate. Cost: one more query per unlabeled image and a fraction of REFINE's training.
 * No file access: the caller stores the answers and passes the stores.
 */
import type { Module } from '../nn/module.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import { argmaxRows, moduleBlackBox, type BlackBox } from '../train/blackbox.js';
import { distillSurrogate, queryAll, type DistillLog } from '../train/distill.js';
import type { TrainConfig } from '../train/trainer.js';
import type { ProgressFactory } from '../train/loop.js';
import type { RunStore } from '../train/run-state.js';
import { BlackBoxDefense } from './blackbox-defense.js';
import { trainRefine, type RefineConfig, type RefineEpochLog } from './train.js';

export interface RefitConfig {
  /** REFINE's last epochs of its schedule trained again from the finished UNet (momentum from zero) */
  refineEpochs: number;
  /** further distillation epochs over the unlabeled images and their transforms */
  distillEpochs: number;
  /** their constant learning rate */
  distillLr: number;
}

/**
 * The refit measured on Fashion-MNIST's BadNets black box (docs/reproduction.md): 4 distillation
 * epochs at lr 0.02 and the last 5 of the budget preset's 13 REFINE epochs (40% of a schedule).
 */
export function defaultRefit(refineEpochs: number): RefitConfig {
  return { refineEpochs: Math.max(1, Math.round(0.4 * refineEpochs)), distillEpochs: 4, distillLr: 0.02 };
}

export function checkRefit(r: RefitConfig, refineEpochs: number): void {
  if (!Number.isInteger(r.refineEpochs) || r.refineEpochs < 1 || r.refineEpochs > refineEpochs) throw new Error(`refit: its REFINE epochs must be an integer in [1, ${refineEpochs}] (REFINE's epochs), got ${r.refineEpochs}`);
  if (!Number.isInteger(r.distillEpochs) || r.distillEpochs < 1) throw new Error(`refit: its distillation epochs must be a positive integer, got ${r.distillEpochs}`);
  if (!(r.distillLr > 0) || !Number.isFinite(r.distillLr)) throw new Error(`refit: its distillation lr must be a positive number, got ${r.distillLr}`);
}

export interface RefitOptions {
  normalization: Normalization;
  /**
   * How the black box's answers on T(x) are obtained (default: queryAll). A resumable caller keeps
   * them here: reads back what an earlier run saved, queries the rest and saves as they arrive.
   */
  query?: (transformed: ImageDataset) => Promise<Float32Array>;
  distillStore?: RunStore;
  refineStore?: RunStore;
  progress?: ProgressFactory;
  quiet?: boolean;
  /** evaluated after each REFINE epoch against the surrogate */
  evalSet?: ImageDataset;
  /**
   * The REFINE configuration of the refit's epochs, chosen after the refit distillation from the
   * refitted surrogate (default: `refine`). The pipeline reruns the augmentation guard here: the
   * answers on T(x) can carry more of the black box's backdoor into the surrogate than the first
   * distillation did (measured on Blended: docs/reproduction.md, "Black-box REFINE").
   */
  configure?: (surrogate: Module) => Promise<RefineConfig>;
}

export interface RefitResult {
  /** the refitted UNet and the same mapping, in front of the black box */
  defense: BlackBoxDefense;
  /** black-box queries spent on T(x) by this call (0 when `query` had them all saved) */
  queries: number;
  /** share of T(x) of the unlabeled images on which the surrogate's argmax equals the black box's, before and after */
  agreementBefore: number;
  agreementAfter: number;
  distill: DistillLog[];
  refine: RefineEpochLog[];
}

/**
 * Refits `surrogate` (in place) to the black box on T(x) of `unlabeled` under `defense` (REFINE's
 * finished UNet and mapping, trained with `refine`) and trains the last epochs of REFINE again
 * from it. `teacher`: the black box's answers on `unlabeled`; `distill`: the first distillation's
 * recipe (batch size, momentum, weight decay, seed; epochs and lr come from `refit`).
 */
export async function refitBlackBox(bb: BlackBox, surrogate: Module, unlabeled: ImageDataset, teacher: Float32Array, defense: BlackBoxDefense, refine: RefineConfig, distill: TrainConfig, refit: RefitConfig, o: RefitOptions): Promise<RefitResult> {
  checkRefit(refit, refine.epochs);
  const k = bb.numClasses;
  if (teacher.length !== unlabeled.n * k) throw new Error(`refit: ${teacher.length} answers on the unlabeled images, ${unlabeled.n * k} expected`);
  const transformed = await defense.transformed(unlabeled);
  const before = bb.queries;
  const answers = await (o.query ?? ((t) => queryAll(bb, t)))(transformed);
  if (answers.length !== unlabeled.n * k) throw new Error(`refit: ${answers.length} answers on T(x), ${unlabeled.n * k} expected`);
  const queries = bb.queries - before;
  const answered = argmaxRows(answers, k);
  const agreement = async () => {
    const own = argmaxRows(await queryAll(moduleBlackBox(surrogate, k, o.normalization), transformed), k);
    return own.reduce((a, p, i) => a + (p === answered[i] ? 1 : 0), 0) / Math.max(1, unlabeled.n);
  };
  const agreementBefore = await agreement();
  const both: ImageDataset = { ...unlabeled, name: `${unlabeled.name} and T(x)`, n: 2 * unlabeled.n, images: concat(unlabeled.images, transformed.images), labels: concat(unlabeled.labels, unlabeled.labels) };
  const bothTeacher = new Float32Array(2 * teacher.length);
  bothTeacher.set(teacher);
  bothTeacher.set(answers, teacher.length);
  const dlog = await distillSurrogate(surrogate, both, bothTeacher, { ...distill, epochs: refit.distillEpochs, lr: refit.distillLr, milestones: [], augment: {} }, { normalization: o.normalization, store: o.distillStore, progress: o.progress, quiet: o.quiet });
  surrogate.eval();
  const agreementAfter = await agreement();
  const cfg = o.configure ? await o.configure(surrogate) : refine;
  if (cfg.epochs !== refine.epochs) throw new Error(`refit: its REFINE configuration has ${cfg.epochs} epochs, the finished run ${refine.epochs}: the refit continues that schedule`);
  const res = await trainRefine(surrogate, unlabeled, cfg, {
    normalization: o.normalization,
    numClasses: k,
    store: o.refineStore,
    progress: o.progress,
    quiet: o.quiet,
    evalSet: o.evalSet,
    warmStart: { unet: defense.unet, perm: defense.perm, epochsDone: refine.epochs - refit.refineEpochs },
  });
  return { defense: new BlackBoxDefense(res.defended.unet, res.defended.perm, bb, o.normalization), queries, agreementBefore, agreementAfter, distill: dlog, refine: res.history };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
