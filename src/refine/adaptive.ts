/**
 * The adaptive attack on REFINE (docs/method.md, "The adaptive attack"; the paper's §5.4, eq. 10,
 * no public code): an attacker who knows REFINE is coming fine-tunes the backdoored model F_δ with
 * L = L_b + γ·L_refine, where L_b is the backdoor's training loss (cross-entropy on the poisoned
 * training set) and L_refine is REFINE's loss (utility on the remapped output + λ·SupCon, with
 * pseudo-labels from F_δ itself) computed through the attacker's own UNet T_a and own random
 * derangement M_a. F_δ and T_a are updated together by one SGD (the paper gives neither γ, the
 * length, nor how T_a is trained: all options here). The defender then runs ordinary REFINE with
 * a fresh UNet and mapping. No file access (resumable through a RunStore).
 */
import { backward } from '../autograd/tape.js';
import { scope } from '../tensor/scope.js';
import { tensor } from '../tensor/tensor.js';
import { add, affine, clamp } from '../ops/elementwise.js';
import { crossEntropy } from '../ops/loss.js';
import { softmax } from '../ops/softmax.js';
import { argmax, remapClasses } from '../ops/index-ops.js';
import { detach } from '../ops/creation.js';
import { Module } from '../nn/module.js';
import { UNet } from '../nn/unet.js';
import { lrAt, SGD, type SgdRecipe } from '../nn/optim.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import { batchCount, batches } from '../data/loader.js';
import type { AugmentSpec } from '../data/augment.js';
import { Rng } from '../util/random.js';
import { openRun, runEpochs, type LoopState, type ProgressFactory } from '../train/loop.js';
import { checkLoss, type RunStore } from '../train/run-state.js';
import { normalizeChannels } from './defended.js';
import { randomDerangement } from './mapping.js';
import { utilityLoss, type RefineLossConfig } from './step.js';
import { supConLoss } from './supcon.js';

/** epochs: fine-tuning epochs over the poisoned training set. */
export interface AdaptiveConfig extends RefineLossConfig, SgdRecipe {
  /** γ: the weight of REFINE's loss in the attacker's objective */
  refineWeight: number;
  /** the attacker's UNet width (first_channels) */
  unetChannels: number;
  /** T_a(x) normalised before F_δ (as the defender's `renormalize`) */
  renormalize: boolean;
  augment: AugmentSpec;
  seed: number;
}

export interface AdaptiveLog {
  epoch: number;
  lr: number;
  /** mean backdoor loss L_b */
  backdoorLoss: number;
  /** mean REFINE loss L_refine through the attacker's UNet and mapping */
  refineLoss: number;
  /** training accuracy of F_δ on the poisoned set (labels as poisoned) */
  trainAccuracy: number;
  seconds: number;
}

/** F_δ and the attacker's UNet as one module: one checkpoint, one optimizer (names model.*, unet.*). */
class AttackerPair extends Module {
  constructor(
    readonly model: Module,
    readonly unet: UNet,
  ) {
    super();
    this.child('model', model);
    this.child('unet', unet);
  }
  forward(x: Tensor): Tensor {
    return this.model.forward(x);
  }
}

type Sums = { lb: number; lr: number; correct: number; seen: number };

/**
 * Fine-tunes `model` in place on the poisoned training set `poisoned` (its labels: the clean ones
 * and the target for poisoned images) with the adaptive objective. Returns the per-epoch log.
 */
export async function adaptiveFineTune(
  model: Module,
  poisoned: ImageDataset,
  cfg: AdaptiveConfig,
  o: { normalization: Normalization; numClasses: number; store?: RunStore; progress?: ProgressFactory; quiet?: boolean },
): Promise<AdaptiveLog[]> {
  const k = o.numClasses;
  const unet = new UNet({ firstChannels: cfg.unetChannels, channels: poisoned.c, seed: cfg.seed + 1 });
  const perm = randomDerangement(k, new Rng(cfg.seed + 2)); // the attacker's own M_a
  const pair = new AttackerPair(model, unet);
  const opt = new SGD(pair.parameters(), { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  const { state } = openRun<LoopState<AdaptiveLog>>(o.store, pair, opt, { epochsDone: 0, history: [], wallSeconds: 0 }, { label: 'adaptive', epochs: cfg.epochs, quiet: o.quiet });
  const loader = { batchSize: cfg.batchSize, shuffle: true, seed: cfg.seed, augment: cfg.augment, normalization: o.normalization };
  try {
    await runEpochs<Sums, AdaptiveLog>(state, {
      label: 'adaptive',
      epochs: cfg.epochs,
      stepsPerEpoch: batchCount(poisoned, loader),
      model: pair,
      opt,
      store: o.store,
      progress: o.progress,
      quiet: o.quiet,
      zeroSums: () => ({ lb: 0, lr: 0, correct: 0, seen: 0 }),
      epoch(epoch, fromStep, sums) {
        opt.lr = lrAt(cfg, epoch);
        pair.train();
        async function* steps(): AsyncGenerator<string> {
          for (const b of batches(poisoned, epoch, loader, fromStep)) {
            // F_δ's logits give L_b and the pseudo-labels (no second pass, which would move the BN statistics again)
            const first = scope(() => {
              const x = tensor(b.x, b.shape);
              const logits = model.forward(x);
              return { x, logits, lb: crossEntropy(logits, b.y), pseudo: argmax(detach(logits)) };
            });
            const pseudoHost = (await first.pseudo.read()) as Int32Array; // SupCon's masks
            const out = scope(() => {
              const xt = clamp(unet.forward(first.x), 0, 1);
              const y = remapClasses(softmax(model.forward(cfg.renormalize ? normalizeChannels(xt, o.normalization) : xt)), perm);
              const lu = utilityLoss(y, first.pseudo, k, cfg.utility);
              const lref = cfg.lambda > 0 ? add(lu, affine(supConLoss(xt, pseudoHost, { temperature: cfg.temperature }), cfg.lambda)) : lu;
              const loss = add(first.lb, affine(lref, cfg.refineWeight));
              opt.zeroGrad();
              backward(loss);
              opt.step();
              return { lb: detach(first.lb), lref: detach(lref), pred: argmax(detach(first.logits)) };
            });
            for (const t of [first.x, first.logits, first.lb, first.pseudo]) t.dispose();
            const [lbv, lrv, pred] = [await out.lb.item(), await out.lref.item(), (await out.pred.read()) as Int32Array];
            for (const t of [out.lb, out.lref, out.pred]) t.dispose();
            checkLoss(lbv + lrv, `adaptive epoch ${epoch + 1}`, o.store?.where);
            for (let i = 0; i < pred.length; i++) if (pred[i] === b.y[i]) sums.correct++;
            sums.lb += lbv * pred.length;
            sums.lr += lrv * pred.length;
            sums.seen += pred.length;
            yield `L_b ${lbv.toFixed(4)} L_refine ${lrv.toFixed(4)}`;
          }
        }
        return { steps: steps() };
      },
      endEpoch: async (epoch, s, seconds) => ({ epoch: epoch + 1, lr: opt.lr, backdoorLoss: s.lb / Math.max(1, s.seen), refineLoss: s.lr / Math.max(1, s.seen), trainAccuracy: s.correct / Math.max(1, s.seen), seconds }),
      describe: (l) => `adaptive epoch ${l.epoch}/${cfg.epochs}: L_b ${l.backdoorLoss.toFixed(4)}, L_refine ${l.refineLoss.toFixed(4)}, train acc ${(100 * l.trainAccuracy).toFixed(2)}%, ${l.seconds.toFixed(0)} s`,
    });
  } finally {
    unet.dispose();
  }
  return state.history;
}
