/**
 * The defended model of REFINE (docs/method.md): predict(x) = M(F(T(x))), T a UNet whose output
 * is clamped to [0, 1], F the frozen suspicious classifier, M a fixed class permutation applied to
 * the softmax probabilities. No file access: it runs in a browser too (defense.ts saves and loads
 * folders, and trains T).
 */
import { tensor, type Tensor } from '../tensor/tensor.js';
import { add, affine, clamp, mul } from '../ops/elementwise.js';
import { softmax } from '../ops/softmax.js';
import { remapClasses } from '../ops/index-ops.js';
import type { Module } from '../nn/module.js';
import { UNet } from '../nn/unet.js';
import { loadWeights, weightsToBytes } from '../nn/weights.js';
import type { Normalization } from '../data/dataset.js';
import { checkPermutation } from './mapping.js';

/** (x − mean) / std per channel (the last axis, NHWC). */
export function normalizeChannels(x: Tensor, n: Normalization): Tensor {
  const c = x.shape[x.rank - 1]!;
  if (n.mean.length !== c) throw new Error(`REFINE renormalize: ${n.mean.length} normalisation channels for images of ${c}`);
  if (c === 1) return affine(x, 1 / n.std[0]!, -n.mean[0]! / n.std[0]!);
  const scale = tensor(Float32Array.from(n.std, (s) => 1 / s), [c]);
  const shift = tensor(Float32Array.from(n.mean, (m, i) => -m / n.std[i]!), [c]);
  return add(mul(x, scale), shift);
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

  /**
   * The UNet's weights (safetensors bytes) and the mapping (mapping.json's text): what a
   * defended-model folder holds beside the classifier (saveDefended in defense.ts writes them).
   */
  async toBytes(metadata: Record<string, string> = {}): Promise<{ unet: Uint8Array; mapping: string }> {
    return { unet: await weightsToBytes(this.unet, metadata), mapping: JSON.stringify({ perm: Array.from(this.perm), ...(this.renormalize ? { renormalize: this.renormalize } : {}) }) };
  }

  /** The defended model from a UNet's safetensors bytes and mapping.json's text (toBytes' output), in front of `classifier`. */
  static fromBytes(classifier: Module, unet: Uint8Array | ArrayBuffer, mapping: string, unetOpts: { firstChannels: number; channels: number }, name = 'defended model'): DefendedModel {
    let m: { perm?: unknown; renormalize?: Normalization };
    try {
      m = JSON.parse(mapping) as typeof m;
    } catch (e) {
      throw new Error(`${name}: mapping.json is not JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(m.perm)) throw new Error(`${name}: mapping.json has no perm array`);
    const k = (classifier as unknown as { head?: { outFeatures?: number } }).head?.outFeatures ?? m.perm.length;
    const perm = checkPermutation(m.perm as number[], k);
    const net = new UNet(unetOpts);
    try {
      loadWeights(net, unet, `${name}: unet.safetensors`);
    } catch (e) {
      net.dispose();
      throw e;
    }
    return new DefendedModel(net, classifier, perm, m.renormalize ?? null);
  }
}
