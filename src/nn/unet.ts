/**
 * REFINE's UNet, the official code's `UNetLittle(bilinear=True, first_channels=c)` (docs/method.md,
 * "The models"): DoubleConv blocks (conv3×3-BN-ReLU ×2), four Down (max-pool 2 + DoubleConv), four
 * Up (bilinear ×2 upsample with align_corners=True, concat [skip, upsampled] on channels,
 * DoubleConv with mid = in/2) and a 1×1 output conv. No output activation: REFINE clamps to [0, 1].
 * Parameter names follow the PyTorch module tree (inc.double_conv.0.weight,
 * down1.maxpool_conv.1.double_conv.0.weight, ...).
 */
import type { Tensor } from '../tensor/tensor.js';
import { concat, pad } from '../ops/shape.js';
import { upsample2x } from '../ops/resize.js';
import { Module, Sequential } from './module.js';
import { BatchNorm2d, Conv2d, Init, MaxPool2d, ReLU, convBN } from './layers.js';

class DoubleConv extends Module {
  readonly double_conv: Sequential;
  constructor(inC: number, outC: number, init: Init, mid = outC) {
    super();
    this.double_conv = this.child(
      'double_conv',
      new Sequential(
        new Conv2d(inC, mid, 3, init, { padding: 1 }),
        new BatchNorm2d(mid),
        new ReLU(),
        new Conv2d(mid, outC, 3, init, { padding: 1 }),
        new BatchNorm2d(outC),
        new ReLU(),
      ),
    );
  }
  forward(x: Tensor): Tensor {
    // (conv, BN, ReLU) x 2; convBN folds the BN into the conv in eval mode
    const [c1, b1, , c2, b2] = this.double_conv.layers as [Conv2d, BatchNorm2d, ReLU, Conv2d, BatchNorm2d, ReLU];
    return convBN(c2, b2, convBN(c1, b1, x, { relu: true }), { relu: true });
  }
}

class Down extends Module {
  readonly maxpool_conv: Sequential;
  constructor(inC: number, outC: number, init: Init) {
    super();
    this.maxpool_conv = this.child('maxpool_conv', new Sequential(new MaxPool2d(2), new DoubleConv(inC, outC, init)));
  }
  forward(x: Tensor): Tensor {
    return this.maxpool_conv.forward(x);
  }
}

class Up extends Module {
  readonly conv: DoubleConv;
  constructor(inC: number, outC: number, init: Init) {
    super();
    this.conv = this.child('conv', new DoubleConv(inC, outC, init, Math.floor(inC / 2)));
  }
  forward(deep: Tensor, skip?: Tensor): Tensor {
    let up = upsample2x(deep, 'bilinear', true);
    // zero-pad to the skip's size when an odd input size made the deep map smaller
    const dh = skip!.shape[1]! - up.shape[1]!;
    const dw = skip!.shape[2]! - up.shape[2]!;
    if (dh || dw) up = pad(up, [[0, 0], [dh >> 1, dh - (dh >> 1)], [dw >> 1, dw - (dw >> 1)], [0, 0]]);
    return this.conv.forward(concat([skip!, up], 3));
  }
}

export interface UNetOptions {
  /** first_channels c (official code: 64 for CIFAR, 32 for ImageNet) */
  firstChannels?: number;
  /** image channels in and out (3 RGB, 1 grey) */
  channels?: number;
  seed?: number;
}

export class UNet extends Module {
  readonly inc: DoubleConv;
  readonly downs: Down[];
  readonly ups: Up[];
  readonly outc: Module;
  constructor(opts: UNetOptions = {}) {
    super();
    const c = opts.firstChannels ?? 64;
    const ch = opts.channels ?? 3;
    const init = new Init(opts.seed ?? 0);
    this.inc = this.child('inc', new DoubleConv(ch, c, init));
    this.downs = [
      this.child('down1', new Down(c, 2 * c, init)),
      this.child('down2', new Down(2 * c, 4 * c, init)),
      this.child('down3', new Down(4 * c, 8 * c, init)),
      this.child('down4', new Down(8 * c, 8 * c, init)),
    ];
    this.ups = [
      this.child('up1', new Up(16 * c, 4 * c, init)),
      this.child('up2', new Up(8 * c, 2 * c, init)),
      this.child('up3', new Up(4 * c, c, init)),
      this.child('up4', new Up(2 * c, c, init)),
    ];
    const outc = new (class extends Module {
      readonly conv = this.child('conv', new Conv2d(c, ch, 1, init));
      forward(x: Tensor): Tensor {
        return this.conv.forward(x);
      }
    })();
    this.outc = this.child('outc', outc);
  }

  forward(x: Tensor): Tensor {
    const skips = [this.inc.forward(x)];
    for (const d of this.downs) skips.push(d.forward(skips[skips.length - 1]!));
    let h = skips[4]!;
    this.ups.forEach((u, i) => (h = u.forward(h, skips[3 - i])));
    return this.outc.forward(h);
  }
}
