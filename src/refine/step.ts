/**
 * One optimizer step of REFINE's training (docs/method.md): pseudo-labels ŷ = argmax F(x), loss
 * L = utility(M(softmax F(T(x))), ŷ) + λ·SupCon(T(x), ŷ), utility = BCE (the official code) or
 * categorical CE (the paper's eq. 7). No file access: trainRefine (defense.ts) runs it in Node,
 * the browser page in a tab.
 */
import { backward, noGrad } from '../autograd/tape.js';
import { scope } from '../tensor/scope.js';
import { tensor, type Shape, type Tensor } from '../tensor/tensor.js';
import { add, affine, clamp, log } from '../ops/elementwise.js';
import { softmax } from '../ops/softmax.js';
import { argmax, oneHot, remapClasses, takeAlong } from '../ops/index-ops.js';
import { bce } from '../ops/loss.js';
import { mean } from '../ops/reduce.js';
import { detach } from '../ops/creation.js';
import type { Optimizer } from '../nn/optim.js';
import { DefendedModel } from './defended.js';
import { identityMapping } from './mapping.js';
import { UNet } from '../nn/unet.js';
import type { Module } from '../nn/module.js';
import type { Normalization } from '../data/dataset.js';
import { largestFittingBatch } from '../train/evaluate.js';
import { supConLoss } from './supcon.js';

/** The loss terms of REFINE's objective. */
export interface RefineLossConfig {
  /** λ of the SupCon term (0 = the "w/o SCL" ablation) */
  lambda: number;
  temperature: number;
  /** 'bce' (official code) or 'ce' (paper eq. 7) */
  utility: 'bce' | 'ce';
}

/** The utility term: BCE (mean over B·K) or CE on the remapped probabilities. */
export function utilityLoss(y: Tensor, pseudo: Tensor, k: number, kind: 'bce' | 'ce'): Tensor {
  if (kind === 'bce') return bce(y, oneHot(pseudo, k));
  // CE on probabilities: −mean log y[ŷ] (clamped like BCE's logs)
  return affine(mean(log(clamp(takeAlong(y, pseudo), 1e-30, 1))), -1);
}


/**
 * One training batch: images (normalised, NHWC) and where the pseudo-labels come from: by default
 * argmax F(x) of the batch itself (the official code), or `pseudo`, labels already computed
 * (argmax F of the un-augmented images does not change between epochs, so the trainer classifies
 * the unlabeled set once instead of once per step).
 */
export interface RefineBatch {
  x: Float32Array;
  shape: Shape;
  pseudo?: Int32Array;
}

export interface RefineStepResult {
  /** pseudo-labels argmax F(x) of the batch */
  pseudo: Int32Array;
  /** the defended model's predictions on the batch */
  pred: Int32Array;
  loss: number;
  utility: number;
  supcon: number;
}

/** One step of `opt` (over the UNet's parameters) on `b`; the classifier stays frozen. */
export async function refineStep(defended: DefendedModel, opt: Optimizer, b: RefineBatch, cfg: RefineLossConfig): Promise<RefineStepResult> {
  const k = defended.perm.length;
  const out = scope(() => {
    const x = tensor(b.x, b.shape);
    const pseudo = b.pseudo ? tensor(b.pseudo, [b.shape[0]]) : noGrad(() => argmax(defended.classifier.forward(x)));
    const xt = defended.transform(x);
    const y = remapClasses(softmax(defended.classify(xt)), defended.perm);
    const lu = utilityLoss(y, pseudo, k, cfg.utility);
    return { x, pseudo, xt, y, lu };
  });
  // SupCon needs the pseudo-labels on the host (they build the positive masks)
  const pseudoHost = b.pseudo ?? ((await out.pseudo.read()) as Int32Array);
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
  return { pseudo: pseudoHost, pred, loss, utility, supcon };
}

/**
 * The largest batch ≤ `batch` whose REFINE step allocates no tensor over the adapter's
 * storage-binding limit, found by forward passes of a throwaway UNet of `unetChannels` through
 * the classifier on blank images of `size` (the backward pass allocates the same shapes).
 */
export function largestRefineBatch(classifier: Module, o: { batch: number; unetChannels: number; numClasses: number; renormalize: Normalization | null }, size: { h: number; w: number; c: number }): number {
  const unet = new UNet({ firstChannels: o.unetChannels, channels: size.c, seed: 0 });
  try {
    const d = new DefendedModel(unet, classifier, identityMapping(o.numClasses), o.renormalize);
    return largestFittingBatch(o.batch, (b) => {
      noGrad(() => scope(() => d.classify(d.transform(tensor(new Float32Array(b * size.h * size.w * size.c), [b, size.h, size.w, size.c])))));
    });
  } finally {
    unet.dispose();
  }
}
