/**
 * The REFINE defense (docs/method.md): y = M(F(T(x))) with T a UNet whose output is clamped to
 * [0, 1], F the frozen (eval-mode) suspicious classifier and M a fixed class permutation applied to
 * the softmax probabilities. T is trained on unlabeled data with pseudo-labels ŷ = argmax F(x):
 * L = utility(M(softmax F(T(x))), onehot(ŷ)) + λ·SupCon(T(x), ŷ), utility = BCE (official code)
 * or categorical CE (the paper's eq. 7).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backward, noGrad, scope, tensor, type Tensor } from '../index.js';
import { add, affine, clamp, log, mul } from '../ops/elementwise.js';
import { accuracy } from '../train/evaluate.js';
import { softmax } from '../ops/softmax.js';
import { argmax, oneHot, remapClasses, takeAlong } from '../ops/index-ops.js';
import { bce } from '../ops/loss.js';
import { mean } from '../ops/reduce.js';
import { detach } from '../ops/creation.js';
import type { Module } from '../nn/module.js';
import { UNet } from '../nn/unet.js';
import { lrAt, oneCycleAt, SGD, type OneCycle } from '../nn/optim.js';
import { loadCheckpoint, saveCheckpoint } from '../nn/checkpoint.js';
import type { AugmentSpec } from '../data/augment.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import { batchCount, batches, type Batch } from '../data/loader.js';
import { Rng } from '../util/random.js';
import { checkPermutation, identityMapping, randomDerangement } from './mapping.js';
import { checkLoss, type RunFiles } from '../train/resume.js';
import { openRun, runEpochs, type LoopState } from '../train/loop.js';
import { supConLoss } from './supcon.js';

export interface RefineConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** epochs (0-indexed) at whose start lr is multiplied by gamma; official: [epochs−50, epochs−20] */
  milestones: number[];
  gamma: number;
  /**
   * Per-step schedule replacing milestones/gamma: a one-cycle run whose peak lr is `lr` (a named
   * deviation for short runs, see docs/refine-recipe.md). Unset: the official per-epoch MultiStepLR.
   */
  schedule?: OneCycle;
  /** λ of the SupCon term (0 = the "w/o SCL" ablation) */
  lambda: number;
  temperature: number;
  /** UNet first_channels */
  unetChannels: number;
  /** 'bce' (official code) or 'ce' (paper eq. 7) */
  utility: 'bce' | 'ce';
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

/** The defended model: predict(x) = M(F(T(x))), or M(F(normalise(T(x)))) with `renormalize`. */
export class DefendedModel {
  constructor(
    readonly unet: UNet,
    readonly classifier: Module,
    readonly perm: Int32Array,
    /** the classifier's input normalisation, applied to T(x) before F; null: T(x) as it is (official) */
    readonly renormalize: Normalization | null = null,
  ) {
    classifier.freeze().eval();
    if (renormalize && (renormalize.mean.length !== renormalize.std.length || renormalize.std.some((v) => !(v > 0)))) {
      throw new Error(`DefendedModel: bad normalisation ${JSON.stringify(renormalize)}`);
    }
  }

  /** Transformed images T(x) clamped to [0, 1]. */
  transform(x: Tensor): Tensor {
    return clamp(this.unet.forward(x), 0, 1);
  }

  /** F's logits on transformed images (normalised first with `renormalize`). */
  classify(xt: Tensor): Tensor {
    return this.classifier.forward(this.renormalize ? normalizeChannels(xt, this.renormalize) : xt);
  }

  /** Remapped class probabilities M(softmax(F(T(x)))). */
  probabilities(x: Tensor): Tensor {
    return remapClasses(softmax(this.classify(this.transform(x))), this.perm);
  }

  /** Class scores for evaluation code that takes an argmax (`forward` for accuracy()). */
  forward(x: Tensor): Tensor {
    return this.probabilities(x);
  }

  eval(): this {
    this.unet.eval();
    return this;
  }

  async save(dir: string, metadata: Record<string, string> = {}): Promise<void> {
    mkdirSync(dir, { recursive: true });
    await saveCheckpoint(this.unet, join(dir, 'unet.safetensors'), metadata);
    const tmp = join(dir, 'mapping.json.tmp');
    writeFileSync(tmp, JSON.stringify({ perm: Array.from(this.perm), ...(this.renormalize ? { renormalize: this.renormalize } : {}) }));
    renameSync(tmp, join(dir, 'mapping.json'));
  }

  static load(dir: string, classifier: Module, unetOpts: { firstChannels: number; channels: number }): DefendedModel {
    const unet = new UNet(unetOpts);
    loadCheckpoint(unet, join(dir, 'unet.safetensors'));
    const { perm, renormalize } = JSON.parse(readFileSync(join(dir, 'mapping.json'), 'utf8')) as { perm: number[]; renormalize?: Normalization };
    const k = (classifier as unknown as { head?: { outFeatures?: number } }).head?.outFeatures ?? perm.length;
    return new DefendedModel(unet, classifier, checkPermutation(perm, k), renormalize ?? null);
  }
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
  /** checkpoint folder: state after every epoch and every few minutes inside one, resume */
  outDir?: string;
  /** evaluated after each epoch (BA of the defended model), e.g. a held-out clean test subset */
  evalSet?: ImageDataset;
  /** evaluated after each epoch too: triggered images labelled with the target (its accuracy is the ASR) */
  asrSet?: ImageDataset;
  quiet?: boolean;
  /** collapse = max class share of the defended predictions above this (default 0.6) */
  collapseShare?: number;
  /** with outDir: seconds between checkpoints inside an epoch (default CHECKPOINT_SECONDS; Infinity: none) */
  checkpointSeconds?: number;
  /** called after each checkpoint inside an epoch is written (tests; throwing stops the run) */
  onCheckpoint?: (epoch: number, steps: number) => void;
}

/** (x − mean) / std per channel (the last axis, NHWC). */
function normalizeChannels(x: Tensor, n: Normalization): Tensor {
  const c = x.shape[x.rank - 1]!;
  if (n.mean.length !== c) throw new Error(`REFINE renormalize: ${n.mean.length} normalisation channels for images of ${c}`);
  if (c === 1) return affine(x, 1 / n.std[0]!, -n.mean[0]! / n.std[0]!);
  const scale = tensor(Float32Array.from(n.std, (s) => 1 / s), [c]);
  const shift = tensor(Float32Array.from(n.mean, (m, i) => -m / n.std[i]!), [c]);
  return add(mul(x, scale), shift);
}

/** The utility term: BCE (mean over B·K) or CE on the remapped probabilities. */
function utilityLoss(y: Tensor, pseudo: Tensor, k: number, kind: 'bce' | 'ce'): Tensor {
  if (kind === 'bce') return bce(y, oneHot(pseudo, k));
  // CE on probabilities: −mean log y[ŷ] (clamped like BCE's logs)
  return affine(mean(log(clamp(takeAlong(y, pseudo), 1e-30, 1))), -1);
}

/** Checkpoint files of a REFINE run (UNet, momentum, state). */
const REFINE_FILES: RunFiles = { model: 'unet-last.safetensors', optimizer: 'unet-last-optimizer.safetensors', state: 'refine-state.json' };

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
  const opt = new SGD(unet.parameters(), { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  if (opts.outDir) mkdirSync(opts.outDir, { recursive: true });
  const { state } = openRun<RefineState>(opts.outDir, REFINE_FILES, unet, opt, { epochsDone: 0, history: [], perm: Array.from(perm), wallSeconds: 0 }, { label: 'REFINE', epochs: cfg.epochs, quiet: opts.quiet });
  perm = checkPermutation(state.perm, k);
  if (cfg.renormalize && !opts.normalization) throw new Error('REFINE renormalize needs the classifier normalisation (options.normalization)');
  const defended = new DefendedModel(unet, classifier, perm, cfg.renormalize ? opts.normalization : null);
  const steps: RefineStepLog[] = [];
  const pseudoLabels = cfg.pseudoLabels ?? 'augmented';
  if (pseudoLabels !== 'augmented' && pseudoLabels !== 'plain') throw new Error(`pseudoLabels must be 'augmented' or 'plain', got '${pseudoLabels}'`);
  const pseudoFromPlain = pseudoLabels === 'plain';
  const loader = { batchSize: cfg.batchSize, shuffle: true, dropLast: cfg.dropLast, seed: cfg.seed, augment: cfg.augment, normalization: opts.normalization, keepPlain: pseudoFromPlain };
  const nSteps = batchCount(data, loader);
  const collapseShare = opts.collapseShare ?? 0.6;
  /** one optimizer step on batch `b`: the pseudo-labels (host) and the defended predictions, the losses */
  const trainStep = async (b: Batch) => {
    const out = scope(() => {
      const x = tensor(b.x, b.shape);
      const pseudo = noGrad(() => argmax(classifier.forward(pseudoFromPlain ? tensor(b.xPlain!, b.shape) : x)));
      const xt = defended.transform(x);
      const y = remapClasses(softmax(defended.classify(xt)), perm);
      const lu = utilityLoss(y, pseudo, k, cfg.utility);
      return { x, pseudo, xt, y, lu };
    });
    // SupCon needs the pseudo-labels on the host (they build the positive masks)
    const pseudoHost = (await out.pseudo.read()) as Int32Array;
    const res = scope(() => {
      const ls = cfg.lambda > 0 ? supConLoss(out.xt, pseudoHost, { temperature: cfg.temperature }) : null;
      const loss = ls ? add(out.lu, affine(ls, cfg.lambda)) : out.lu;
      opt.zeroGrad();
      backward(loss);
      opt.step();
      return { loss: detach(loss), lu: detach(out.lu), ls: ls ? detach(ls) : null, pred: argmax(detach(out.y)) };
    });
    for (const t of [out.x, out.pseudo, out.xt, out.y, out.lu]) t.dispose();
    const [loss, utility, supcon, pred] = [await res.loss.item(), await res.lu.item(), res.ls ? await res.ls.item() : 0, (await res.pred.read()) as Int32Array];
    for (const t of [res.loss, res.lu, res.ls, res.pred]) t?.dispose();
    return { pseudoHost, pred, loss, utility, supcon };
  };
  await runEpochs<RefineSums, RefineEpochLog>(state, {
    label: 'REFINE',
    epochs: cfg.epochs,
    stepsPerEpoch: nSteps,
    model: unet,
    opt,
    files: REFINE_FILES,
    outDir: opts.outDir,
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
          const r = await trainStep(b);
          checkLoss(r.loss, `REFINE epoch ${epoch + 1} step ${step + 1}`, opts.outDir);
          let agree = 0;
          const share = new Array<number>(k).fill(0);
          for (let i = 0; i < r.pred.length; i++) {
            sums.pseudoCounts[r.pseudoHost[i]!]!++;
            sums.predCounts[r.pred[i]!]!++;
            share[r.pred[i]!]!++;
            if (r.pred[i] === r.pseudoHost[i]) agree++;
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
