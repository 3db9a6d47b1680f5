/**
 * ResNet-18 and ResNet-50 (docs/method.md, "The models"). CIFAR stem: 3×3 conv (stride 1, no
 * bias) + BN + ReLU, no max-pool, names as BackdoorBox's `core.models.ResNet(18)` / `ResNet(50)`
 * (shortcut.0/1, linear). ImageNet stem: 7×7 stride-2 conv + BN + ReLU + 3×3 stride-2 max-pool,
 * names as torchvision's resnet18 / resnet50 (downsample.0/1, fc). ResNet-18: basic blocks
 * [2, 2, 2, 2]; ResNet-50: bottleneck blocks [3, 4, 6, 3] (1×1, 3×3 with the stride, 1×1 to 4×
 * the width). Head: global average pooling (= BackdoorBox's avg_pool2d(4) on the final 4×4 map of
 * a 32×32 input; also right for 28×28 inputs) → Linear. `width` scales every stage (64·width,
 * 128·width, ...), `inChannels` allows grey images.
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
  /** 18 (basic blocks, the default) or 50 (bottleneck blocks); ResNet50 sets 50 */
  depth?: 18 | 50;
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

class Bottleneck extends Module {
  static readonly expansion = 4;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  conv3: Conv2d;
  bn3: BatchNorm2d;
  shortcut: Sequential | null = null;
  constructor(inC: number, planes: number, stride: number, init: Init, shortcutName: string) {
    super();
    const outC = planes * Bottleneck.expansion;
    this.conv1 = this.child('conv1', new Conv2d(inC, planes, 1, init, { bias: false }));
    this.bn1 = this.child('bn1', new BatchNorm2d(planes));
    this.conv2 = this.child('conv2', new Conv2d(planes, planes, 3, init, { stride, padding: 1, bias: false }));
    this.bn2 = this.child('bn2', new BatchNorm2d(planes));
    this.conv3 = this.child('conv3', new Conv2d(planes, outC, 1, init, { bias: false }));
    this.bn3 = this.child('bn3', new BatchNorm2d(outC));
    if (stride !== 1 || inC !== outC) {
      this.shortcut = this.child(shortcutName, new Sequential(new Conv2d(inC, outC, 1, init, { stride, bias: false }), new BatchNorm2d(outC)));
    }
  }
  forward(x: Tensor): Tensor {
    const h = convBN(this.conv2, this.bn2, convBN(this.conv1, this.bn1, x, { relu: true }), { relu: true });
    const sc = this.shortcut ? convBN(this.shortcut.layers[0] as Conv2d, this.shortcut.layers[1] as BatchNorm2d, x) : x;
    return convBN(this.conv3, this.bn3, h, { residual: sc, relu: true });
  }
}

/** Blocks per stage and block kind of each depth. */
const DEPTHS = { 18: { blocks: [2, 2, 2, 2], bottleneck: false }, 50: { blocks: [3, 4, 6, 3], bottleneck: true } } as const;

/** ResNet of `depth` 18 or 50 (ResNet18 and ResNet50 below name them). */
export class ResNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly stages: Sequential[];
  readonly head: Linear;
  readonly opts: Required<ResNetOptions>;

  constructor(opts: ResNetOptions) {
    super();
    this.opts = { inChannels: 3, width: 1, stem: 'cifar', seed: 0, depth: 18, ...opts };
    const { inChannels, width, stem, numClasses, depth } = this.opts;
    const spec = DEPTHS[depth];
    if (!(numClasses >= 1) || !(width > 0) || !spec) throw new Error(`ResNet: invalid options ${JSON.stringify(opts)}`);
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
      const blocks: Module[] = [];
      for (let j = 0; j < spec.blocks[i]!; j++) {
        const stride = i > 0 && j === 0 ? 2 : 1;
        blocks.push(spec.bottleneck ? new Bottleneck(inC, c, stride, init, shortcutName) : new BasicBlock(inC, c, stride, init, shortcutName));
        inC = spec.bottleneck ? c * Bottleneck.expansion : c;
      }
      return this.child(`layer${i + 1}`, new Sequential(...blocks));
    });
    this.head = this.child(stem === 'cifar' ? 'linear' : 'fc', new Linear(inC, numClasses, init));
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

/** ResNet-18 (basic blocks [2, 2, 2, 2]): the classifiers of the paper. */
export class ResNet18 extends ResNet {
  constructor(opts: Omit<ResNetOptions, 'depth'>) {
    super({ ...opts, depth: 18 });
  }
}

/** ResNet-50 (bottleneck blocks [3, 4, 6, 3]): the black box of the paper's App. E. */
export class ResNet50 extends ResNet {
  constructor(opts: Omit<ResNetOptions, 'depth'>) {
    super({ ...opts, depth: 50 });
  }
}
