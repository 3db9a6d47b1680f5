/**
 * Training REFINE (docs/method.md): T, a UNet in front of the frozen suspicious classifier F,
 * trained on unlabeled data with pseudo-labels ŷ = argmax F(x) (the step: step.ts; the defended
 * model M(F(T(x))): defended.ts), resumable from a store. No file access: it runs in a browser;
 * defense.ts adds run folders and defended-model folders in Node.
 */
import { accuracy, predict } from '../train/evaluate.js';
import type { Module } from '../nn/module.js';
import { UNet } from '../nn/unet.js';
import { loadWeights, weightsToBytes } from '../nn/weights.js';
import { lrAt, oneCycleAt, SGD, type OneCycle, type SgdRecipe } from '../nn/optim.js';
import type { AugmentSpec } from '../data/augment.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import { batchCount, batches } from '../data/loader.js';
import { Rng } from '../util/random.js';
import { checkPermutation, identityMapping, randomDerangement } from './mapping.js';
import { checkLoss, type RunStore } from '../train/run-state.js';
import { openRun, runEpochs, type LoopState, type ProgressFactory } from '../train/loop.js';
import { DefendedModel } from './defended.js';
import { refineStep, type RefineLossConfig } from './step.js';

/** milestones: the official [epochs−50, epochs−20] (refine-presets.ts). */
export interface RefineConfig extends RefineLossConfig, SgdRecipe {
  /**
   * Per-step schedule replacing milestones/gamma: a one-cycle run whose peak lr is `lr` (a named
   * deviation for short runs, see docs/refine-recipe.md). Unset: the official per-epoch MultiStepLR.
   */
  schedule?: OneCycle;
  /** UNet first_channels */
  unetChannels: number;
  /** 'derangement' (REFINE) or 'identity' (the "w/o HRF" ablation) */
  mapping: 'derangement' | 'identity';
  augment: AugmentSpec;
  /**
   * Which view the pseudo-labels argmax F(·) come from: 'augmented' (the official code and the
   * default when unset: the same augmented batch the UNet sees) or 'plain' (a named deviation: the
   * un-augmented image, so that an augmentation that fires the backdoor — REFINE's bilinear
   * RandomResizedCrop does on WaNet, see diagnostics.ts — cannot poison the labels; the
   * augmentations are label-preserving, so both views carry the same class).
   */
  pseudoLabels?: 'augmented' | 'plain';
  /**
   * Normalise T(x) with the classifier's mean/std before F (a named deviation, see
   * docs/refine-recipe.md). Unset: the official code, which feeds the [0, 1] output of T straight
   * into a classifier trained on normalised images.
   */
  renormalize?: boolean;
  dropLast: boolean;
  seed: number;
}

export interface RefineStepLog {
  epoch: number;
  step: number;
  loss: number;
  utility: number;
  supcon: number;
  /** fraction of the batch where the defended prediction equals the pseudo-label */
  agreement: number;
  /** largest share of one class among the defended predictions of the batch */
  maxClassShare: number;
}

export interface RefineEpochLog {
  epoch: number;
  lr: number;
  loss: number;
  agreement: number;
  maxClassShare: number;
  /** pseudo-label counts per class over the epoch */
  pseudoLabelCounts: number[];
  /** defended-prediction counts per class over the epoch */
  predictionCounts: number[];
  benignAccuracy?: number;
  /** ASR of the defended model on the asrSet given to trainRefine (triggered non-target images) */
  attackSuccess?: number;
  /** optimizer steps done by the end of this epoch (over the whole run) */
  stepsDone?: number;
  seconds: number;
  collapsed: boolean;
}

export interface RefineOptions {
  normalization: Normalization | null;
  numClasses: number;
  /** where checkpoints go: the state after every epoch and every few minutes inside one, and resume (Node: a folder, see defense.ts) */
  store?: RunStore;
  /** the per-epoch progress display (Node: a progress bar, see defense.ts) */
  progress?: ProgressFactory;
  /** evaluated after each epoch (BA of the defended model), e.g. a held-out clean test subset */
  evalSet?: ImageDataset;
  /** evaluated after each epoch too: triggered images labelled with the target (its accuracy is the ASR) */
  asrSet?: ImageDataset;
  quiet?: boolean;
  /** collapse = max class share of the defended predictions above this (default 0.6) */
  collapseShare?: number;
  /** with a store: seconds between checkpoints inside an epoch (default CHECKPOINT_SECONDS; Infinity: none) */
  checkpointSeconds?: number;
  /** called after each checkpoint inside an epoch is written (tests; throwing stops the run) */
  onCheckpoint?: (epoch: number, steps: number) => void;
  /**
   * Continue another run's UNet and mapping from `epochsDone` epochs into the schedule (the
   * black-box refit, blackbox-refit.ts), momentum from zero; ignored when the store holds a
   * checkpoint, which is resumed instead.
   */
  warmStart?: { unet: UNet; perm: Int32Array; epochsDone: number };
}

interface RefineState extends LoopState<RefineEpochLog> {
  perm: number[];
}

/** The running sums of an epoch (saved with a checkpoint inside it). */
type RefineSums = { lossSum: number; agreeSum: number; seen: number; pseudoCounts: number[]; predCounts: number[] };

/**
 * Trains REFINE's input transformation against the frozen `classifier` on `data` (labels are
 * never read). Returns the defended model and the per-epoch log (pseudo-label distribution,
 * agreement, collapse flags, BA when evalSet is given).
 */
export async function trainRefine(
  classifier: Module,
  data: ImageDataset,
  cfg: RefineConfig,
  opts: RefineOptions,
): Promise<{ defended: DefendedModel; history: RefineEpochLog[]; steps: RefineStepLog[]; wallSeconds: number }> {
  const k = opts.numClasses;
  const rng = new Rng(cfg.seed);
  const unet = new UNet({ firstChannels: cfg.unetChannels, channels: data.c, seed: cfg.seed });
  let perm = cfg.mapping === 'identity' ? identityMapping(k) : randomDerangement(k, rng);
  const warm = opts.warmStart;
  if (warm && !(Number.isInteger(warm.epochsDone) && warm.epochsDone >= 0 && warm.epochsDone < cfg.epochs)) throw new Error(`REFINE warm start: epochsDone must be an integer in [0, ${cfg.epochs}), got ${warm.epochsDone}`);
  if (warm) perm = warm.perm;
  const opt = new SGD(unet.parameters(), { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  const { state, resumedAt } = openRun<RefineState>(opts.store, unet, opt, { epochsDone: warm?.epochsDone ?? 0, history: [], perm: Array.from(perm), wallSeconds: 0 }, { label: 'REFINE', epochs: cfg.epochs, quiet: opts.quiet });
  if (warm && resumedAt === undefined) loadWeights(unet, await weightsToBytes(warm.unet), 'the warm-start UNet');
  perm = checkPermutation(state.perm, k);
  if (cfg.renormalize && !opts.normalization) throw new Error('REFINE renormalize needs the classifier normalisation (options.normalization)');
  const defended = new DefendedModel(unet, classifier, perm, cfg.renormalize ? opts.normalization : null);
  const steps: RefineStepLog[] = [];
  const pseudoLabels = cfg.pseudoLabels ?? 'augmented';
  if (pseudoLabels !== 'augmented' && pseudoLabels !== 'plain') throw new Error(`pseudoLabels must be 'augmented' or 'plain', got '${pseudoLabels}'`);
  const pseudoFromPlain = pseudoLabels === 'plain';
  const loader = { batchSize: cfg.batchSize, shuffle: true, dropLast: cfg.dropLast, seed: cfg.seed, augment: cfg.augment, normalization: opts.normalization };
  // argmax F of the un-augmented images, once for the whole set (the same labels a per-step
  // forward pass would give: the frozen classifier runs in eval mode, image by image)
  const plainPseudo = pseudoFromPlain ? await predict(classifier, data, { normalization: opts.normalization }) : null;
  const nSteps = batchCount(data, loader);
  const collapseShare = opts.collapseShare ?? 0.6;
  await runEpochs<RefineSums, RefineEpochLog>(state, {
    label: 'REFINE',
    epochs: cfg.epochs,
    stepsPerEpoch: nSteps,
    model: unet,
    opt,
    store: opts.store,
    progress: opts.progress,
    quiet: opts.quiet,
    checkpointSeconds: opts.checkpointSeconds,
    onCheckpoint: opts.onCheckpoint,
    zeroSums: () => ({ lossSum: 0, agreeSum: 0, seen: 0, pseudoCounts: new Array<number>(k).fill(0), predCounts: new Array<number>(k).fill(0) }),
    epoch(epoch, fromStep, sums) {
      opt.lr = lrAt(cfg, epoch);
      unet.train();
      async function* run(): AsyncGenerator<string> {
        let step = fromStep;
        for (const b of batches(data, epoch, loader, fromStep)) {
          if (cfg.schedule) {
            const s = oneCycleAt(cfg.schedule, cfg.lr, epoch * nSteps + step, cfg.epochs * nSteps, cfg.momentum);
            opt.lr = s.lr;
            opt.momentum = s.momentum;
          }
          const r = await refineStep(defended, opt, plainPseudo ? { x: b.x, shape: b.shape, pseudo: Int32Array.from(b.indices, (i) => plainPseudo[i]!) } : { x: b.x, shape: b.shape }, cfg);
          checkLoss(r.loss, `REFINE epoch ${epoch + 1} step ${step + 1}`, opts.store?.where);
          let agree = 0;
          const share = new Array<number>(k).fill(0);
          for (let i = 0; i < r.pred.length; i++) {
            sums.pseudoCounts[r.pseudo[i]!]!++;
            sums.predCounts[r.pred[i]!]!++;
            share[r.pred[i]!]!++;
            if (r.pred[i] === r.pseudo[i]) agree++;
          }
          steps.push({ epoch: epoch + 1, step, loss: r.loss, utility: r.utility, supcon: r.supcon, agreement: agree / r.pred.length, maxClassShare: Math.max(...share) / r.pred.length });
          sums.lossSum += r.loss * r.pred.length;
          sums.agreeSum += agree;
          sums.seen += r.pred.length;
          step++;
          yield `loss ${r.loss.toFixed(4)} (bce ${r.utility.toFixed(4)}, supcon ${r.supcon.toFixed(3)}) agree ${((100 * agree) / r.pred.length).toFixed(0)}%`;
        }
      }
      return { steps: run() };
    },
    async endEpoch(epoch, sums, seconds) {
      const seen = Math.max(1, sums.seen);
      const maxShare = Math.max(...sums.predCounts) / seen;
      const log: RefineEpochLog = {
        epoch: epoch + 1,
        lr: opt.lr,
        loss: sums.lossSum / seen,
        agreement: sums.agreeSum / seen,
        maxClassShare: maxShare,
        pseudoLabelCounts: sums.pseudoCounts,
        predictionCounts: sums.predCounts,
        seconds,
        collapsed: maxShare > collapseShare && Math.max(...sums.pseudoCounts) / seen < collapseShare,
      };
      log.stepsDone = (epoch + 1) * nSteps;
      if (opts.evalSet) log.benignAccuracy = await defendedAccuracy(defended, opts.evalSet, opts.normalization);
      if (opts.asrSet) log.attackSuccess = await defendedAccuracy(defended, opts.asrSet, opts.normalization);
      return log;
    },
    describe: (log) =>
      `REFINE epoch ${log.epoch}/${cfg.epochs}: loss ${log.loss.toFixed(4)}, agreement ${(100 * log.agreement).toFixed(1)}%` +
      (log.benignAccuracy !== undefined ? `, BA ${(100 * log.benignAccuracy).toFixed(2)}%` : '') +
      (log.attackSuccess !== undefined ? `, ASR ${(100 * log.attackSuccess).toFixed(2)}%` : '') +
      `, ${log.seconds.toFixed(0)} s` +
      (log.collapsed ? ` — COLLAPSE: ${(100 * log.maxClassShare).toFixed(0)}% of inputs mapped to one class` : ''),
  });
  return { defended, history: state.history, steps, wallSeconds: state.wallSeconds };
}

export function defendedAccuracy(defended: DefendedModel, ds: ImageDataset, normalization: Normalization | null): Promise<number> {
  return accuracy(defended, ds, { normalization });
}

