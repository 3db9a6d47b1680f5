/**
 * Basic layers with PyTorch's default initialisation (weights and biases ~ U(−1/√fan_in, 1/√fan_in),
 * BN γ = 1, β = 0, running mean 0 / var 1) and PyTorch parameter names. Convolution weights are
 * stored HWIO [KH, KW, Cin, Cout] (our layout); checkpoints convert to PyTorch's OIHW.
 */
import type { Tensor } from '../tensor/tensor.js';
import { full, rand, zeros } from '../ops/creation.js';
import { relu } from '../ops/elementwise.js';
import { conv2d } from '../ops/conv.js';
import { batchNorm2d } from '../ops/norm.js';
import { linear } from '../ops/matmul.js';
import { globalAvgPool, maxPool2d } from '../ops/pool.js';
import { Module } from './module.js';

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
  forward(x: Tensor): Tensor {
    return batchNorm2d(x, this.weight, this.bias, this.runningMean, this.runningVar, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
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
