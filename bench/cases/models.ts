/**
 * Whole training steps (forward, backward, optimizer) in images/s:
 * - the classifier step of the quick presets (ResNet-18 ×0.25 on 28×28 grey images, batch 128),
 *   and the same for the ResNet-50 ×0.25 black box of `--blackbox` (run when named);
 * - a REFINE-shaped step: UNet (c = 16) → clamp → frozen ResNet-18 ×0.25 → softmax → label
 *   remap → BCE against the pseudo-labels, gradients into the UNet only (batch 128).
 */
import { backward, keep, noGrad, scope, type Tensor } from '../../src/index.js';
import { ResNet, ResNet18 } from '../../src/nn/resnet.js';
import { UNet } from '../../src/nn/unet.js';
import { SGD } from '../../src/nn/optim.js';
import { crossEntropy, bce } from '../../src/ops/loss.js';
import { softmax } from '../../src/ops/softmax.js';
import { argmax, oneHot, remapClasses } from '../../src/ops/index-ops.js';
import { clamp } from '../../src/ops/elementwise.js';
import { rand } from '../../src/ops/creation.js';
import type { BenchCase } from '../types.js';

const B = 128;
const S = 28;

export function classifierStep(depth: 18 | 50 = 18): BenchCase {
  let model: ResNet | null = null;
  let opt: SGD | null = null;
  let x: Tensor | null = null;
  const y = Int32Array.from({ length: B }, (_, i) => i % 10);
  return {
    // the ResNet-50 row is named so that the filter "train step" keeps meaning the quick preset's step
    name: depth === 18 ? `ResNet-18 x0.25 train step, batch ${B}, ${S}x${S}x1` : `ResNet-50 x0.25 black-box training step, batch ${B}, ${S}x${S}x1`,
    images: B,
    ...(depth === 18 ? { peerKey: `train-step:${B},${S}` } : { onlyWhenNamed: true }),
    setup() {
      model = new ResNet({ numClasses: 10, inChannels: 1, width: 0.25, depth });
      opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
      x = keep(rand([B, S, S, 1], 3));
    },
    run() {
      scope(() => {
        const l = crossEntropy(model!.forward(x!), y);
        opt!.zeroGrad();
        backward(l);
        opt!.step();
      });
    },
    teardown() {
      opt?.zeroGrad();
      opt?.dispose();
      model?.dispose();
      x?.dispose();
    },
  };
}

/**
 * A REFINE step of batch `b` on `s`×`s`×`c` images, UNet width `uc`, ResNet-18 width `w`. The
 * default row is the quick presets' (b 128, 28×28×1, c16, ×0.25); the `REFINE scaling` rows (run
 * when named: `npm run bench -- "REFINE scaling"`) show how the cost and the peak memory grow.
 */
export function refineStep(b = B, s = S, c = 1, uc = 16, w = 0.25, label = 'REFINE step', cachedPseudo = false): BenchCase {
  let unet: UNet | null = null;
  let f: ResNet18 | null = null;
  let opt: SGD | null = null;
  let x: Tensor | null = null;
  let cached: Tensor | null = null;
  const perm = [1, 2, 3, 4, 5, 6, 7, 8, 9, 0];
  return {
    name: `${label} (UNet c${uc} + frozen ResNet-18 x${w}), batch ${b}, ${s}x${s}x${c}${cachedPseudo ? ', pseudo-labels cached' : ''}`,
    images: b,
    ...(label === 'REFINE step' && !cachedPseudo ? { peerKey: `refine-step:${b},${s}` } : { onlyWhenNamed: true }),
    setup() {
      unet = new UNet({ firstChannels: uc, channels: c });
      f = new ResNet18({ numClasses: 10, inChannels: c, width: w }).freeze().eval();
      opt = new SGD(unet.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
      x = keep(rand([b, s, s, c], 4));
      // the guard's remedy: pseudo-labels of the un-augmented images, computed once before training
      if (cachedPseudo) cached = keep(noGrad(() => oneHot(argmax(f!.forward(x!)), 10)));
    },
    run() {
      scope(() => {
        const pseudo = cached ?? noGrad(() => oneHot(argmax(f!.forward(x!)), 10));
        const p = remapClasses(softmax(f!.forward(clamp(unet!.forward(x!), 0, 1))), perm);
        const l = bce(p, pseudo);
        opt!.zeroGrad();
        backward(l);
        opt!.step();
      });
    },
    teardown() {
      opt?.zeroGrad();
      opt?.dispose();
      unet?.dispose();
      f?.dispose();
      x?.dispose();
      cached?.dispose();
      cached = null;
    },
  };
}

const scaling = 'REFINE scaling';
export const cases: BenchCase[] = [
  classifierStep(),
  classifierStep(50),
  refineStep(),
  refineStep(B, S, 1, 16, 0.25, 'REFINE step', true),
  ...[32, 64, 128, 256].map((b) => refineStep(b, 28, 1, 16, 0.25, scaling)),
  // a wider and a narrower UNet at the quick presets' size (what c = 32 would cost a 2-core
  // REFINE run, what c = 8 would save)
  refineStep(128, 28, 1, 32, 0.25, scaling),
  refineStep(128, 28, 1, 8, 0.25, scaling),
  refineStep(128, 32, 3, 16, 0.25, scaling),
  refineStep(128, 64, 3, 16, 0.25, scaling),
  // the paper's CIFAR-10 sizes: UNet c = 64, ResNet-18 width 1, 32×32×3, REFINE batch 256
  refineStep(256, 32, 3, 64, 1, scaling),
];
