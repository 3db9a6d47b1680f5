/**
 * ResNet-18 (docs/method.md, "The models"). CIFAR stem: 3×3 conv (stride 1, no bias) + BN + ReLU,
 * no max-pool, names as BackdoorBox's `core.models.ResNet(18)` (shortcut.0/1, linear). ImageNet
 * stem: 7×7 stride-2 conv + BN + ReLU + 3×3 stride-2 max-pool, names as torchvision's resnet18
 * (downsample.0/1, fc). Head: global average pooling (= BackdoorBox's avg_pool2d(4) on the final
 * 4×4 map of a 32×32 input; also right for 28×28 inputs) → Linear. `width` scales every stage
 * (64·width, 128·width, ...), `inChannels` allows grey images.
 */
import type { Tensor } from '../tensor/tensor.js';
import { globalAvgPool, maxPool2d } from '../ops/pool.js';
import { Module, Sequential } from './module.js';
import { BatchNorm2d, Conv2d, Init, Linear, convBN } from './layers.js';

export interface ResNetOptions {
  numClasses: number;
  inChannels?: number;
  /** multiplier of the stage widths 64/128/256/512 (1 = the paper's model) */
  width?: number;
  stem?: 'cifar' | 'imagenet';
  seed?: number;
}

class BasicBlock extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  shortcut: Sequential | null = null;
  constructor(inC: number, outC: number, stride: number, init: Init, shortcutName: string) {
    super();
    this.conv1 = this.child('conv1', new Conv2d(inC, outC, 3, init, { stride, padding: 1, bias: false }));
    this.bn1 = this.child('bn1', new BatchNorm2d(outC));
    this.conv2 = this.child('conv2', new Conv2d(outC, outC, 3, init, { padding: 1, bias: false }));
    this.bn2 = this.child('bn2', new BatchNorm2d(outC));
    if (stride !== 1 || inC !== outC) {
      this.shortcut = this.child(shortcutName, new Sequential(new Conv2d(inC, outC, 1, init, { stride, bias: false }), new BatchNorm2d(outC)));
    }
  }
  forward(x: Tensor): Tensor {
    const h = convBN(this.conv1, this.bn1, x, { relu: true });
    const sc = this.shortcut ? convBN(this.shortcut.layers[0] as Conv2d, this.shortcut.layers[1] as BatchNorm2d, x) : x;
    return convBN(this.conv2, this.bn2, h, { residual: sc, relu: true });
  }
}

export class ResNet18 extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly stages: Sequential[];
  readonly head: Linear;
  readonly opts: Required<ResNetOptions>;

  constructor(opts: ResNetOptions) {
    super();
    this.opts = { inChannels: 3, width: 1, stem: 'cifar', seed: 0, ...opts };
    const { inChannels, width, stem, numClasses } = this.opts;
    if (!(numClasses >= 1) || !(width > 0)) throw new Error(`ResNet18: invalid options ${JSON.stringify(opts)}`);
    const init = new Init(this.opts.seed);
    const w = [64, 128, 256, 512].map((c) => Math.max(1, Math.round(c * width)));
    this.conv1 =
      stem === 'cifar'
        ? this.child('conv1', new Conv2d(inChannels, w[0]!, 3, init, { padding: 1, bias: false }))
        : this.child('conv1', new Conv2d(inChannels, w[0]!, 7, init, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.child('bn1', new BatchNorm2d(w[0]!));
    const shortcutName = stem === 'cifar' ? 'shortcut' : 'downsample';
    let inC = w[0]!;
    this.stages = w.map((c, i) => {
      const stride = i === 0 ? 1 : 2;
      const stage = this.child(`layer${i + 1}`, new Sequential(new BasicBlock(inC, c, stride, init, shortcutName), new BasicBlock(c, c, 1, init, shortcutName)));
      inC = c;
      return stage;
    });
    this.head = this.child(stem === 'cifar' ? 'linear' : 'fc', new Linear(w[3]!, numClasses, init));
  }

  /** Everything up to the last stage's output (BTI-DBF's feature split). */
  features(x: Tensor): Tensor {
    let h = convBN(this.conv1, this.bn1, x, { relu: true });
    if (this.opts.stem === 'imagenet') h = maxPool2d(h, { kernel: 3, stride: 2, padding: 1 });
    for (const s of this.stages) h = s.forward(h);
    return h;
  }

  forward(x: Tensor): Tensor {
    return this.head.forward(globalAvgPool(this.features(x)));
  }
}
