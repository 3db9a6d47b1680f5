/** Memory-bound layer rows: batch-norm, bilinear upsampling, softmax cross-entropy (fwd + bwd). */
import { backward, keep, scope, type Tensor } from '../../src/index.js';
import { full, rand, zeros } from '../../src/ops/creation.js';
import { batchNorm2d } from '../../src/ops/norm.js';
import { upsample2x } from '../../src/ops/resize.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { sum } from '../../src/ops/reduce.js';
import { mul } from '../../src/ops/elementwise.js';
import type { BenchCase } from '../types.js';

const size = (s: number[]) => s.reduce((p, d) => p * d, 1);

/**
 * Forward + backward of `f` (through sum(f(x)·w), w fixed) on x of `shape`. `extra` allocates
 * whatever else f needs; everything is freed in teardown.
 */
function fwdBwd(name: string, shape: number[], bytes: number, f: (x: Tensor, extra: Tensor[]) => Tensor, extra: () => Tensor[] = () => []): BenchCase {
  let x: Tensor | null = null;
  let w: Tensor | null = null;
  let more: Tensor[] = [];
  return {
    name,
    bytes,
    setup() {
      x = keep(rand(shape, 1, -1, 1));
      x.requiresGrad = true;
      more = extra().map((t) => keep(t));
      // the output shape is only known after one forward
      const outShape = scope(() => [...f(x!, more).shape]);
      w = keep(rand(outShape, 2, -1, 1));
    },
    run() {
      scope(() => backward(sum(mul(f(x!, more), w!))));
      x!.grad?.dispose();
      x!.grad = null;
    },
    teardown() {
      for (const t of [x, w, ...more]) t?.dispose();
    },
  };
}

const bn = [64, 32, 32, 64];
const up = [64, 16, 16, 64];
const labels = Int32Array.from({ length: 256 }, (_, i) => i % 10);

export const cases: BenchCase[] = [
  // fwd reads x twice (stats, normalise) and writes y; bwd reads dy and x twice and writes dx
  fwdBwd('batchnorm2d train fwd+bwd [64,32,32,64]', bn, size(bn) * 4 * 8, (x, [g, b, m, v]) => batchNorm2d(x, g!, b!, m!, v!, { training: true }), () => [
    full([64], 1),
    zeros([64]),
    zeros([64]),
    full([64], 1),
  ]),
  // fwd reads x and writes 4x; bwd reads 4x and writes x
  fwdBwd('bilinear upsample x2 fwd+bwd [64,16,16,64]', up, size(up) * 4 * 10, (x) => upsample2x(x, 'bilinear', true)),
  fwdBwd('softmax cross-entropy fwd+bwd [256,10]', [256, 10], 256 * 10 * 4 * 3, (x) => crossEntropy(x, labels, { reduction: 'none' })),
];
