/**
 * Basic layers with PyTorch's default initialisation (weights and biases ~ U(−1/√fan_in, 1/√fan_in),
 * BN γ = 1, β = 0, running mean 0 / var 1) and PyTorch parameter names. Convolution weights are
 * stored HWIO [KH, KW, Cin, Cout] (our layout); checkpoints convert to PyTorch's OIHW.
 */
import type { Tensor } from '../tensor/tensor.js';
import { full, rand, zeros } from '../ops/creation.js';
import { affine, div, mul, relu, sqrt, sub, add } from '../ops/elementwise.js';
import { conv2d, flipConvWeights } from '../ops/conv.js';
import { batchNorm2d } from '../ops/norm.js';
import { linear } from '../ops/matmul.js';
import { globalAvgPool, maxPool2d } from '../ops/pool.js';
import { Module, getWeightsVersion } from './module.js';
import { keep, scope } from '../tensor/scope.js';
import { noGrad } from '../autograd/tape.js';

/** A seed source for initialisation: each layer draws the next seed. */
export class Init {
  constructor(private seed: number) {}
  next(): number {
    this.seed = (Math.imul(this.seed ^ (this.seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return this.seed;
  }
}

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  bias?: boolean;
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    init: Init,
    opts: Conv2dOptions = {},
  ) {
    super();
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    const bound = 1 / Math.sqrt(inChannels * kernelSize * kernelSize);
    this.weight = this.param('weight', rand([kernelSize, kernelSize, inChannels, outChannels], init.next(), -bound, bound));
    this.bias = opts.bias === false ? null : this.param('bias', rand([outChannels], init.next(), -bound, bound));
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }
}

export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  constructor(
    readonly channels: number,
    readonly momentum = 0.1,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.param('weight', full([channels], 1));
    this.bias = this.param('bias', zeros([channels]));
    this.runningMean = this.buffer('running_mean', zeros([channels]));
    this.runningVar = this.buffer('running_var', full([channels], 1));
  }
  /** convBN's cached folded weights of a frozen (conv, this) pair */
  folded: { conv: Conv2d; version: number; w: Tensor; b: Tensor; wdx: Tensor } | null = null;
  dropFolded(): void {
    this.folded?.w.dispose();
    this.folded?.b.dispose();
    this.folded?.wdx.dispose();
    this.folded = null;
  }
  override dispose(): void {
    this.dropFolded();
    super.dispose();
  }
  /** bn(x), then + residual and the ReLU when given (fused into the batch norm's passes in training mode) */
  forward(x: Tensor, relu = false, residual: Tensor | null = null): Tensor {
    return batchNorm2d(x, this.weight, this.bias, this.runningMean, this.runningVar, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
      relu,
      residual,
    });
  }
}

/**
 * bn(conv(x)). In eval mode the batch norm is an affine map per output channel and is folded into
 * the convolution: w' = w·s, b' = β − μ·s (+ b·s), s = γ / √(σ² + ε) — no normalize pass over the
 * activations forward and backward. The same math as the two layers up to float rounding. For a
 * frozen pair (REFINE's classifier: every conv of it runs this way) w' and b' are computed once and
 * cached on the BN module until the weights version changes; otherwise they are computed on the fly
 * with autograd ops, so gradients reach w, γ, β. In training mode (batch statistics) the two layers
 * run as they are. `epi`: relu(bn(conv(x)) + residual) (either part optional): in eval mode the
 * conv kernel's epilogue does both; in training mode both fuse into the batch norm's
 * normalisation pass.
 */
export function convBN(conv: Conv2d, bn: BatchNorm2d, x: Tensor, epi: { relu?: boolean; residual?: Tensor | null } = {}): Tensor {
  const relu = Boolean(epi.relu);
  const residual = epi.residual ?? null;
  if (bn.training) return bn.forward(conv.forward(x), relu, residual);
  const opts = { stride: conv.stride, padding: conv.padding, relu, residual };
  const frozen = !conv.weight.requiresGrad && !conv.bias?.requiresGrad && !bn.weight.requiresGrad && !bn.bias.requiresGrad;
  if (frozen) {
    let f = bn.folded;
    if (!f || f.conv !== conv || f.version !== getWeightsVersion()) {
      bn.dropFolded();
      const [w, b] = noGrad(() => scope(() => foldBN(conv, bn)));
      // (and the flipped weights of the stride-1 input gradient, so that it needs no copy per step)
      f = bn.folded = { conv, version: getWeightsVersion(), w: keep(w), b: keep(b), wdx: keep(noGrad(() => flipConvWeights(w))) };
    }
    return conv2d(x, f.w, f.b, { ...opts, dxWeights: f.wdx });
  }
  const [w, b] = foldBN(conv, bn);
  const y = conv2d(x, w, b, opts);
  w.dispose();
  b.dispose();
  return y;
}

/** [w', b'] of convBN (intermediates are left to the caller's scope). */
function foldBN(conv: Conv2d, bn: BatchNorm2d): [Tensor, Tensor] {
  const s = div(bn.weight, sqrt(affine(bn.runningVar, 1, bn.eps)));
  const shift = sub(bn.bias, mul(bn.runningMean, s));
  return [mul(conv.weight, s), conv.bias ? add(shift, mul(conv.bias, s)) : shift];
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    init: Init,
    bias = true,
  ) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param('weight', rand([outFeatures, inFeatures], init.next(), -bound, bound));
    this.bias = bias ? this.param('bias', rand([outFeatures], init.next(), -bound, bound)) : null;
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernel = 2,
    readonly stride = kernel,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, { kernel: this.kernel, stride: this.stride });
  }
}

export class GlobalAvgPool extends Module {
  forward(x: Tensor): Tensor {
    return globalAvgPool(x);
  }
}
