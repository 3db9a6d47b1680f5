import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ops from '../../src/ops/all.js';
import { tensor } from '../../src/index.js';
import { Rng } from '../../src/util/random.js';
import { checkOp, prod, randArray } from '../helpers.js';
import { gridSampleRef } from '../reference/gridsample.js';

/**
 * A random grid whose source coordinates have fractional parts in [0.15, 0.85]: away from pixel
 * centres (kinks of bilinear interpolation in the coordinate) and from the border clamp. Some
 * points fall outside [-1, 1] (up to two pixels out).
 */
function randomGrid(N: number, OH: number, OW: number, H: number, W: number, align: boolean, r: Rng): Float64Array {
  const g = new Float64Array(N * OH * OW * 2);
  const toG = (s: number, size: number) => (align ? (2 * s) / (size - 1) - 1 : (2 * s + 1) / size - 1);
  for (let i = 0; i < N * OH * OW; i++) {
    for (const [k, size] of [[0, W], [1, H]] as const) {
      const cell = r.int(size + 3) - 2; // -2 .. size
      g[i * 2 + k] = toG(cell + r.uniform(0.15, 0.85), size);
    }
  }
  return g;
}

const cases: [number[], number, number][] = [
  [[1, 5, 7, 3], 4, 6],
  [[2, 9, 3, 5], 3, 5],
  [[1, 4, 6, 12], 5, 5],
  [[1, 3, 4, 33], 2, 3],
  [[2, 2, 2, 1], 3, 2],
];

for (const align of [false, true]) {
  for (const padding of ['zeros', 'border'] as const) {
    test(`gridSample align=${align} padding=${padding}: forward + gradients of x and grid`, async () => {
      const r = new Rng(align ? 11 : 12);
      for (const [shape, oh, ow] of cases) {
        const [N, H, W] = shape as [number, number, number, number];
        const grid = randomGrid(N, oh, ow, H, W, align, r);
        await checkOp(
          `gridSample align=${align} ${padding} [${shape}] grid ${oh}x${ow}`,
          [{ data: randArray(prod(shape)), shape, grad: true }, { data: grid, shape: [N, oh, ow, 2], grad: true }],
          ([t, g]) => ops.gridSample(t!, g!, { alignCorners: align, paddingMode: padding }),
          ([a, g]) => gridSampleRef(a!, shape, g!, oh, ow, align, padding),
          { samples: 30, eps: 1e-4 },
        );
      }
    });
  }
}

test('gridSample identity grid (align_corners=True) reproduces the image', async () => {
  const [N, H, W, C] = [1, 5, 7, 3];
  const g = new Float32Array(N * H * W * 2);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    g[(y * W + x) * 2] = (2 * x) / (W - 1) - 1;
    g[(y * W + x) * 2 + 1] = (2 * y) / (H - 1) - 1;
  }
  const data = Float32Array.from(randArray(N * H * W * C));
  const y = ops.gridSample(tensor(data, [N, H, W, C]), tensor(g, [N, H, W, 2]), { alignCorners: true });
  const out = await y.read();
  for (let i = 0; i < data.length; i++) assert.ok(Math.abs(out[i]! - data[i]!) < 1e-5, `element ${i}`);
});

test('gridSample rejects bad shapes with clear messages', () => {
  const x = tensor(new Float32Array(2 * 3 * 3 * 4), [2, 3, 3, 4]);
  assert.throws(() => ops.gridSample(x, tensor(new Float32Array(2 * 4 * 3), [2, 4, 3])), /gridSample: grid must be \[N, OH, OW, 2\]/);
  assert.throws(() => ops.gridSample(x, tensor(new Float32Array(1 * 4 * 4 * 2), [1, 4, 4, 2])), /with N = 2/);
  assert.throws(() => ops.gridSample(tensor(new Float32Array(4), [4]), tensor(new Float32Array(8), [1, 2, 2, 2])), /gridSample: x must be NHWC/);
});

test.run();
