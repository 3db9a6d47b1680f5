/**
 * Distilling a surrogate from a black box (docs/method.md, "Black-box REFINE"): the black box's
 * probability vectors on the unlabeled images are queried once, and the surrogate is trained to
 * match them, L = 1/|D| Σ_x ‖F(x) − softmax(F_s(x))‖² (MSE on the probability vectors, summed over
 * the classes). SGD with momentum, the classifier trainer's per-epoch schedule, resumable from a
 * store; no labels are read. No file access here (defense.ts caches the queries in a run folder).
 */
import { backward } from '../autograd/tape.js';
import { scope } from '../tensor/scope.js';
import { tensor } from '../tensor/tensor.js';
import { affine, square, sub } from '../ops/elementwise.js';
import { mean } from '../ops/reduce.js';
import { softmax } from '../ops/softmax.js';
import { detach } from '../ops/creation.js';
import type { Module } from '../nn/module.js';
import { lrAt, SGD } from '../nn/optim.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import { batchCount, batches } from '../data/loader.js';
import { argmaxRows, type BlackBox } from './blackbox.js';
import { openRun, runEpochs, type LoopState, type ProgressFactory } from './loop.js';
import { checkLoss, type RunStore } from './run-state.js';
import type { TrainConfig } from './trainer.js';

/** The black box's probabilities [n, k] for every image of `ds`, in order, `chunk` images per query. */
export async function queryAll(bb: BlackBox, ds: ImageDataset, chunk = 1024, onProgress?: (done: number) => void): Promise<Float32Array> {
  const px = ds.h * ds.w * ds.c;
  const out = new Float32Array(ds.n * bb.numClasses);
  for (let i = 0; i < ds.n; i += chunk) {
    const n = Math.min(chunk, ds.n - i);
    out.set(await bb.query({ images: ds.images.subarray(i * px, (i + n) * px), n, h: ds.h, w: ds.w, c: ds.c }), i * bb.numClasses);
    onProgress?.(i + n);
  }
  return out;
}

export interface DistillLog {
  epoch: number;
  lr: number;
  /** mean distillation loss over the epoch */
  loss: number;
  /** share of images whose surrogate argmax equals the black box's */
  agreement: number;
  seconds: number;
}

export interface DistillOptions {
  normalization: Normalization | null;
  store?: RunStore;
  progress?: ProgressFactory;
  quiet?: boolean;
  checkpointSeconds?: number;
}

type Sums = { lossSum: number; agree: number; seen: number };

/**
 * Trains `surrogate` on `ds` to output the `teacher` probabilities (queryAll's result). Returns
 * the per-epoch log.
 */
export async function distillSurrogate(surrogate: Module, ds: ImageDataset, teacher: Float32Array, cfg: TrainConfig, opts: DistillOptions): Promise<DistillLog[]> {
  const k = teacher.length / ds.n;
  if (!Number.isInteger(k) || k < 2) throw new Error(`distill: ${teacher.length} teacher probabilities for ${ds.n} images`);
  // (a surrogate REFINE has used is frozen: training it further needs its gradients again)
  surrogate.unfreeze();
  const opt = new SGD(surrogate.parameters(), { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  const { state } = openRun<LoopState<DistillLog>>(opts.store, surrogate, opt, { epochsDone: 0, history: [], wallSeconds: 0 }, { label: 'distill', epochs: cfg.epochs, quiet: opts.quiet });
  const loader = { batchSize: cfg.batchSize, shuffle: true, seed: cfg.seed, augment: cfg.augment, normalization: opts.normalization };
  // the black box's class of every image, once (not again for every batch of every epoch)
  const teacherClass = argmaxRows(teacher, k);
  await runEpochs<Sums, DistillLog>(state, {
    label: 'distill',
    epochs: cfg.epochs,
    stepsPerEpoch: batchCount(ds, loader),
    model: surrogate,
    opt,
    store: opts.store,
    progress: opts.progress,
    quiet: opts.quiet,
    checkpointSeconds: opts.checkpointSeconds,
    zeroSums: () => ({ lossSum: 0, agree: 0, seen: 0 }),
    epoch(epoch, fromStep, sums) {
      opt.lr = lrAt(cfg, epoch);
      surrogate.train();
      async function* steps(): AsyncGenerator<string> {
        for (const b of batches(ds, epoch, loader, fromStep)) {
          const t = new Float32Array(b.indices.length * k);
          b.indices.forEach((idx, r) => t.set(teacher.subarray(idx * k, (idx + 1) * k), r * k));
          const out = scope(() => {
            const p = softmax(surrogate.forward(tensor(b.x, b.shape)));
            const loss = affine(mean(square(sub(p, tensor(t, [b.indices.length, k])))), k);
            opt.zeroGrad();
            backward(loss);
            opt.step();
            return { loss: detach(loss), p: detach(p) };
          });
          const lv = await out.loss.item();
          const pv = (await out.p.read()) as Float32Array;
          out.loss.dispose();
          out.p.dispose();
          checkLoss(lv, `distill epoch ${epoch + 1}`, opts.store?.where);
          const predicted = argmaxRows(pv, k);
          b.indices.forEach((idx, r) => {
            if (predicted[r] === teacherClass[idx]) sums.agree++;
          });
          sums.lossSum += lv * b.indices.length;
          sums.seen += b.indices.length;
          yield `loss ${lv.toFixed(5)} agree ${((100 * sums.agree) / sums.seen).toFixed(0)}%`;
        }
      }
      return { steps: steps() };
    },
    endEpoch: async (epoch, sums, seconds) => ({ epoch: epoch + 1, lr: opt.lr, loss: sums.lossSum / Math.max(1, sums.seen), agreement: sums.agree / Math.max(1, sums.seen), seconds }),
    describe: (l) => `distill epoch ${l.epoch}/${cfg.epochs}: loss ${l.loss.toFixed(5)}, agreement with the black box ${(100 * l.agreement).toFixed(1)}%, ${l.seconds.toFixed(0)} s`,
  });
  return state.history;
}
