/**
 * Supervised training of a classifier (the official recipe: docs/engine.md, "Presets and measured
 * results"): cross-entropy, SGD with momentum and weight decay, a multi-step schedule applied per
 * epoch, seeded shuffling and augmentation, a progress bar, evaluation, and resume after a kill:
 * the model and momentum buffers are checkpointed (atomically) after every epoch and every few
 * minutes inside one, and a rerun with the same configuration continues from there, with the same
 * batches, augmentation and weights as a run that was never stopped (the loader replays the random
 * draws of the batches already done).
 */
import { createHash } from 'node:crypto';
import { backward } from '../autograd/tape.js';
import { scope } from '../tensor/scope.js';
import { tensor, type Tensor } from '../tensor/tensor.js';
import { crossEntropy } from '../ops/loss.js';
import { argmax } from '../ops/index-ops.js';
import { detach } from '../ops/creation.js';
import { lrAt, SGD, type SgdRecipe } from '../nn/optim.js';
import type { Module } from '../nn/module.js';
import { checkLoss, folderStore, type RunFiles } from './resume.js';
import { openRun, runEpochs, type LoopState } from './loop.js';
import { Progress } from '../util/progress.js';
import type { AugmentSpec } from '../data/augment.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import { batchCount, batches, type LoaderOptions } from '../data/loader.js';
import { accuracy, hits, predict } from './evaluate.js';

export interface TrainConfig extends SgdRecipe {
  augment: AugmentSpec;
  seed: number;
}

export interface EpochLog {
  epoch: number;
  lr: number;
  loss: number;
  trainAccuracy: number;
  testAccuracy?: number;
  /** accuracy on each of TrainOptions.evalSets (e.g. ASR on the triggered test images) */
  evals?: Record<string, number>;
  seconds: number;
  imagesPerSec: number;
}

export interface TrainResult {
  history: EpochLog[];
  testAccuracy: number;
  wallSeconds: number;
  imagesPerSec: number;
  resumedFromEpoch: number;
  /** where this call picked the run up (progressText, e.g. "epoch 1/3 and 280 steps of the next"); undefined for a fresh run */
  resumedAt?: string;
  /**
   * the predictions on each of TrainOptions.evalSets after the last epoch, when this call trained
   * it (a caller wanting more than the accuracy, e.g. the ASR by class, needs no second pass)
   */
  evalPredictions?: Record<string, Int32Array>;
  /** the predictions on the test set after the last epoch, when this call trained it (for the BA by class) */
  testPredictions?: Int32Array;
}

export interface TrainOptions {
  normalization: Normalization | null;
  /** per-sample train-time transform (see LoaderOptions.sampleTransform) */
  sampleTransform?: LoaderOptions['sampleTransform'];
  /** checkpoint folder; enables resume */
  outDir?: string;
  /** evaluate on the test set after every epoch (otherwise only at the end) */
  evalEveryEpoch?: boolean;
  /**
   * further labelled sets evaluated whenever the test set is (after every epoch with
   * evalEveryEpoch, else after the last): a backdoor's ASR curve is watched while it trains
   */
  evalSets?: Record<string, ImageDataset>;
  label?: string;
  quiet?: boolean;
  /** called after each epoch's checkpoint is written (progress reporting; throwing stops the run) */
  onEpochEnd?: (log: EpochLog) => void;
  /**
   * with outDir: also checkpoint inside an epoch when this many seconds have passed since the
   * last checkpoint (default CHECKPOINT_SECONDS = 300; Infinity: at epoch ends only). A kill then loses at most this
   * much work, not the rest of a long epoch (~35 min on lavapipe).
   */
  checkpointSeconds?: number;
  /** called after each checkpoint inside an epoch is written (tests; throwing stops the run) */
  onCheckpoint?: (epoch: number, steps: number) => void;
}

interface ResumeState extends LoopState<EpochLog> {
  configHash: string;
}

/** The running sums of an epoch (saved with a checkpoint inside it). */
type TrainSums = { lossSum: number; correct: number; seen: number };

export function configHash(x: unknown): string {
  return createHash('sha256').update(JSON.stringify(x)).digest('hex').slice(0, 16);
}

/** The trainer's per-epoch checkpoint files inside its output folder (resume.ts). */
export const TRAIN_FILES: RunFiles = { model: 'last.safetensors', optimizer: 'last-optimizer.safetensors', state: 'train-state.json' };

export async function trainClassifier(model: Module, data: { train: ImageDataset; test: ImageDataset }, cfg: TrainConfig, opts: TrainOptions): Promise<TrainResult> {
  const opt = new SGD(model.parameters(), { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  const hash = configHash({ cfg, n: data.train.n, ds: data.train.name, params: model.parameterCount(), norm: opts.normalization });
  const label = opts.label ?? 'train';
  const store = opts.outDir ? folderStore(opts.outDir, TRAIN_FILES) : undefined;
  const { state, resumedAt } = openRun<ResumeState>(store, model, opt, { configHash: hash, epochsDone: 0, history: [], wallSeconds: 0 }, {
    label,
    epochs: cfg.epochs,
    quiet: opts.quiet,
    check: (s) => {
      if (s.configHash !== hash) throw new Error(`${opts.outDir} holds a run with another configuration (${s.configHash} ≠ ${hash}): use another output folder or delete it`);
    },
  });
  const resumedFromEpoch = state.epochsDone;
  let evalPredictions: Record<string, Int32Array> | undefined;
  let testPredictions: Int32Array | undefined;
  const loaderOpts: LoaderOptions = {
    batchSize: cfg.batchSize,
    shuffle: true,
    seed: cfg.seed,
    augment: cfg.augment,
    sampleTransform: opts.sampleTransform,
    normalization: opts.normalization,
  };
  await runEpochs<TrainSums, EpochLog>(state, {
    label,
    epochs: cfg.epochs,
    stepsPerEpoch: batchCount(data.train, loaderOpts),
    model,
    opt,
    store,
    progress: (label, total) => new Progress(label, total),
    quiet: opts.quiet,
    checkpointSeconds: opts.checkpointSeconds,
    onCheckpoint: opts.onCheckpoint,
    onEpochEnd: opts.onEpochEnd,
    zeroSums: () => ({ lossSum: 0, correct: 0, seen: 0 }),
    epoch(epoch, fromStep, sums) {
      opt.lr = lrAt(cfg, epoch);
      model.train();
      const seen0 = sums.seen;
      const t0 = performance.now();
      // losses and predictions stay on the GPU for a few steps: a read drains the queue
      const pending: { loss: Tensor; pred: Tensor; y: Int32Array }[] = [];
      let drained = sums.seen;
      const flush = async () => {
        for (const [i, p] of pending.entries()) {
          const lv = await p.loss.item();
          if (!Number.isFinite(lv)) {
            for (const q of pending.slice(i)) for (const t of [q.loss, q.pred]) t.dispose();
            pending.length = 0;
            checkLoss(lv, `${label} epoch ${epoch + 1}`, opts.outDir);
          }
          sums.lossSum += lv * p.y.length;
          const pr = await p.pred.read();
          for (let j = 0; j < p.y.length; j++) if (pr[j] === p.y[j]) sums.correct++;
          p.loss.dispose();
          p.pred.dispose();
        }
        pending.length = 0;
        drained = sums.seen;
      };
      async function* steps(): AsyncGenerator<string> {
        let seen = sums.seen;
        for (const b of batches(data.train, epoch, loaderOpts, fromStep)) {
          const out = scope(() => {
            const logits = model.forward(tensor(b.x, b.shape));
            const loss = crossEntropy(logits, b.y);
            opt.zeroGrad();
            backward(loss);
            opt.step();
            return { loss: detach(loss), pred: argmax(logits) };
          });
          pending.push({ ...out, y: b.y });
          seen += b.y.length;
          sums.seen = seen;
          if (pending.length >= 8) await flush();
          const secs = (performance.now() - t0) / 1000;
          yield `loss ${drained > 0 ? (sums.lossSum / drained).toFixed(4) : '…'} | ${((seen - seen0) / Math.max(1e-9, secs)).toFixed(0)} img/s`;
        }
      }
      return { steps: steps(), flush };
    },
    async endEpoch(epoch, sums, seconds) {
      const log: EpochLog = { epoch: epoch + 1, lr: opt.lr, loss: sums.lossSum / sums.seen, trainAccuracy: sums.correct / sums.seen, seconds, imagesPerSec: sums.seen / seconds };
      if (opts.evalEveryEpoch || epoch === cfg.epochs - 1) {
        const testPred = await predict(model, data.test, { normalization: opts.normalization });
        log.testAccuracy = hits(testPred, data.test.labels) / data.test.n;
        if (epoch === cfg.epochs - 1) testPredictions = testPred;
        for (const [name, set] of Object.entries(opts.evalSets ?? {})) {
          if (set.n === 0) continue;
          const pred = await predict(model, set, { normalization: opts.normalization });
          (log.evals ??= {})[name] = hits(pred, set.labels) / set.n;
          if (epoch === cfg.epochs - 1) (evalPredictions ??= {})[name] = pred;
        }
      }
      return log;
    },
    describe: (log) =>
      `epoch ${log.epoch}/${cfg.epochs}: loss ${log.loss.toFixed(4)}, train acc ${(100 * log.trainAccuracy).toFixed(2)}%` +
      (log.testAccuracy !== undefined ? `, test acc ${(100 * log.testAccuracy).toFixed(2)}%` : '') +
      Object.entries(log.evals ?? {}).map(([k, v]) => `, ${k} ${(100 * v).toFixed(2)}%`).join('') +
      `, ${log.seconds.toFixed(1)} s, ${log.imagesPerSec.toFixed(0)} img/s`,
  });
  const last = state.history[state.history.length - 1];
  const testAccuracy = last?.testAccuracy ?? (await accuracy(model, data.test, { normalization: opts.normalization }));
  const imgs = state.history.reduce((p, h) => p + h.imagesPerSec * h.seconds, 0);
  return { history: state.history, testAccuracy, wallSeconds: state.wallSeconds, imagesPerSec: imgs / Math.max(1e-9, state.wallSeconds), resumedFromEpoch, resumedAt, evalPredictions, testPredictions };
}
