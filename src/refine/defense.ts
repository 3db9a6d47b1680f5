/**
 * The REFINE defense (docs/method.md): y = M(F(T(x))) with T a UNet whose output is clamped to
 * [0, 1], F the frozen (eval-mode) suspicious classifier and M a fixed class permutation applied to
 * the softmax probabilities. T is trained on unlabeled data with pseudo-labels ŷ = argmax F(x):
 * L = utility(M(softmax F(T(x))), onehot(ŷ)) + λ·SupCon(T(x), ŷ), utility = BCE (official code)
 * or categorical CE (the paper's eq. 7).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backward, noGrad, rt, scope, tensor, type Tensor } from '../index.js';
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
import { batchCount, batches } from '../data/loader.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/random.js';
import { checkPermutation, identityMapping, randomDerangement } from './mapping.js';
import { checkLoss, checkParameters, checkpointTimer, loadRunState, progressText, saveRunState, type RunFiles } from '../train/resume.js';
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

interface RefineState {
  epochsDone: number;
  history: RefineEpochLog[];
  perm: number[];
  wallSeconds: number;
  /** the unfinished epoch `epochsDone` (0-indexed): steps done and the running sums at that point */
  partial?: RefinePartial;
}

interface RefinePartial {
  steps: number;
  lossSum: number;
  agreeSum: number;
  seen: number;
  pseudoCounts: number[];
  predCounts: number[];
  seconds: number;
}

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
  let state: RefineState = { epochsDone: 0, history: [], perm: Array.from(perm), wallSeconds: 0 };
  const opt = new SGD(unet.parameters(), { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  const prev = opts.outDir ? loadRunState<RefineState>(opts.outDir, REFINE_FILES, unet, opt) : null;
  if (prev) {
    state = prev.state;
    perm = checkPermutation(state.perm, k);
    if (!opts.quiet) {
      console.error(`resuming REFINE in ${opts.outDir} after ${progressText(state, cfg.epochs)}${prev.momentumRestored ? '' : ' (no momentum checkpoint in this folder: momentum restarts from zero)'}`);
    }
  }
  if (opts.outDir) mkdirSync(opts.outDir, { recursive: true });
  if (cfg.renormalize && !opts.normalization) throw new Error('REFINE renormalize needs the classifier normalisation (options.normalization)');
  const defended = new DefendedModel(unet, classifier, perm, cfg.renormalize ? opts.normalization : null);
  const steps: RefineStepLog[] = [];
  const pseudoLabels = cfg.pseudoLabels ?? 'augmented';
  if (pseudoLabels !== 'augmented' && pseudoLabels !== 'plain') throw new Error(`pseudoLabels must be 'augmented' or 'plain', got '${pseudoLabels}'`);
  const pseudoFromPlain = pseudoLabels === 'plain';
  const loader = { batchSize: cfg.batchSize, shuffle: true, dropLast: cfg.dropLast, seed: cfg.seed, augment: cfg.augment, normalization: opts.normalization, keepPlain: pseudoFromPlain };
  const nSteps = batchCount(data, loader);
  const collapseShare = opts.collapseShare ?? 0.6;
  try {
    for (let epoch = state.epochsDone; epoch < cfg.epochs; epoch++) {
      opt.lr = lrAt(cfg, epoch);
      const totalSteps = cfg.epochs * nSteps;
      const scheduleStep = (t: number) => {
        if (!cfg.schedule) return;
        const s = oneCycleAt(cfg.schedule, cfg.lr, t, totalSteps, cfg.momentum);
        opt.lr = s.lr;
        opt.momentum = s.momentum;
      };
      unet.train();
      // a checkpoint inside this epoch continues from its sums (exact: the same batches follow)
      const start: RefinePartial = state.partial ?? { steps: 0, lossSum: 0, agreeSum: 0, seen: 0, pseudoCounts: new Array<number>(k).fill(0), predCounts: new Array<number>(k).fill(0), seconds: 0 };
      delete state.partial;
      const t0 = performance.now() - 1000 * start.seconds;
      const bar = opts.quiet ? null : new Progress(`REFINE epoch ${epoch + 1}/${cfg.epochs}`, nSteps);
      const { pseudoCounts, predCounts } = start;
      let { lossSum, agreeSum, seen, steps: step } = start;
      const timer = checkpointTimer(opts.checkpointSeconds);
      for (const b of batches(data, epoch, loader, start.steps)) {
        scheduleStep(epoch * nSteps + step);
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
        const [lv, luv, lsv, pred] = [await res.loss.item(), await res.lu.item(), res.ls ? await res.ls.item() : 0, (await res.pred.read()) as Int32Array];
        for (const t of [res.loss, res.lu, res.ls, res.pred]) t?.dispose();
        checkLoss(lv, `REFINE epoch ${epoch + 1} step ${step + 1}`, opts.outDir);
        let agree = 0;
        const share = new Array<number>(k).fill(0);
        for (let i = 0; i < pred.length; i++) {
          pseudoCounts[pseudoHost[i]!]!++;
          predCounts[pred[i]!]!++;
          share[pred[i]!]!++;
          if (pred[i] === pseudoHost[i]) agree++;
        }
        const s: RefineStepLog = { epoch: epoch + 1, step, loss: lv, utility: luv, supcon: lsv, agreement: agree / pred.length, maxClassShare: Math.max(...share) / pred.length };
        steps.push(s);
        lossSum += lv * pred.length;
        agreeSum += agree;
        seen += pred.length;
        step++;
        if (opts.outDir && step < nSteps && timer.due()) {
          const partial: RefinePartial = { steps: step, lossSum, agreeSum, seen, pseudoCounts, predCounts, seconds: (performance.now() - t0) / 1000 };
          await saveRunState(opts.outDir, REFINE_FILES, unet, opt, { ...state, partial });
          timer.saved();
          opts.onCheckpoint?.(epoch, step);
        }
        bar?.update(step, `loss ${lv.toFixed(4)} (bce ${luv.toFixed(4)}, supcon ${lsv.toFixed(3)}) agree ${(100 * s.agreement).toFixed(0)}%`);
      }
      opt.zeroGrad();
      bar?.stop();
      await rt().sync();
      if (!opts.outDir) await checkParameters(unet, `REFINE epoch ${epoch + 1}`);
      const seconds = (performance.now() - t0) / 1000;
      const maxShare = Math.max(...predCounts) / Math.max(1, seen);
      const log: RefineEpochLog = {
        epoch: epoch + 1,
        lr: opt.lr,
        loss: lossSum / Math.max(1, seen),
        agreement: agreeSum / Math.max(1, seen),
        maxClassShare: maxShare,
        pseudoLabelCounts: pseudoCounts,
        predictionCounts: predCounts,
        seconds,
        collapsed: maxShare > collapseShare && Math.max(...pseudoCounts) / Math.max(1, seen) < collapseShare,
      };
      log.stepsDone = (epoch + 1) * nSteps;
      if (opts.evalSet) log.benignAccuracy = await defendedAccuracy(defended, opts.evalSet, opts.normalization);
      if (opts.asrSet) log.attackSuccess = await defendedAccuracy(defended, opts.asrSet, opts.normalization);
      state.history.push(log);
      state.epochsDone = epoch + 1;
      state.wallSeconds += seconds;
      if (!opts.quiet) {
        console.error(
          `REFINE epoch ${epoch + 1}/${cfg.epochs}: loss ${log.loss.toFixed(4)}, agreement ${(100 * log.agreement).toFixed(1)}%` +
            (log.benignAccuracy !== undefined ? `, BA ${(100 * log.benignAccuracy).toFixed(2)}%` : '') +
            (log.attackSuccess !== undefined ? `, ASR ${(100 * log.attackSuccess).toFixed(2)}%` : '') +
            `, ${seconds.toFixed(0)} s` +
            (log.collapsed ? ` — COLLAPSE: ${(100 * maxShare).toFixed(0)}% of inputs mapped to one class` : ''),
        );
      }
      if (opts.outDir) await saveRunState(opts.outDir, REFINE_FILES, unet, opt, state);
    }
  } finally {
    opt.dispose();
  }
  return { defended, history: state.history, steps, wallSeconds: state.wallSeconds };
}

export function defendedAccuracy(defended: DefendedModel, ds: ImageDataset, normalization: Normalization | null): Promise<number> {
  return accuracy(defended, ds, { normalization });
}
