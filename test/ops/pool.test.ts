import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ops from '../../src/ops/all.js';
import { tensor } from '../../src/index.js';
import { Rng } from '../../src/util/random.js';
import { checkOp, prod, randArray } from '../helpers.js';
import { avgPoolRef, maxPoolRef } from '../reference/pool.js';

/** distinct values 0.01 apart (no ties, and finite differences never flip an argmax) */
function distinct(n: number, seed: number): Float64Array {
  const r = new Rng(seed);
  const perm = r.shuffle([...Array(n).keys()]) as number[];
  return Float64Array.from(perm, (v) => v * 0.01 - n * 0.005);
}

const maxCases: [number[], number, number, number][] = [
  // shape, kernel, stride, padding
  [[1, 5, 7, 3], 2, 2, 0], // odd sizes: floor drops the last row/column
  [[2, 9, 3, 5], 3, 2, 1],
  [[1, 7, 7, 12], 3, 1, 0], // overlapping windows (stride < kernel)
  [[2, 6, 5, 33], 2, 3, 0], // stride > kernel: some inputs get no gradient
  [[1, 4, 4, 1], 2, 1, 1],
  [[2, 7, 6, 8], 2, 2, 0], // C % 4 == 0: the vec4 kernels, odd size
  [[1, 5, 5, 4], 3, 2, 1], // vec4 with padding and overlapping windows
];

test('maxPool2d forward + gradient (kernel, stride, padding)', async () => {
  for (const [shape, k, s, p] of maxCases) {
    const x = distinct(prod(shape), k * 100 + s * 10 + p);
    await checkOp(
      `maxPool2d [${shape}] k${k} s${s} p${p}`,
      [{ data: x, shape, grad: true }],
      ([t]) => ops.maxPool2d(t!, { kernel: k, stride: s, padding: p }),
      ([a]) => maxPoolRef(a!, shape, k, s, p).y,
      { samples: 40 },
    );
  }
});

test('maxPool2d default is kernel 2 stride 2 (UNet Down)', async () => {
  const shape = [2, 8, 6, 4];
  await checkOp('maxPool2d default', [{ data: distinct(prod(shape), 3), shape, grad: true }], ([t]) => ops.maxPool2d(t!), ([a]) => maxPoolRef(a!, shape, 2, 2, 0).y);
});

test('avgPool2d forward + gradient', async () => {
  for (const [shape, k] of [[[1, 5, 7, 3], 2], [[2, 9, 3, 5], 3], [[1, 4, 8, 12], 4]] as [number[], number][]) {
    await checkOp(`avgPool2d [${shape}] k${k}`, [{ data: randArray(prod(shape)), shape, grad: true }], ([t]) => ops.avgPool2d(t!, k), ([a]) => avgPoolRef(a!, shape, k, k).y);
  }
});

test('globalAvgPool forward + gradient', async () => {
  for (const shape of [[2, 5, 7, 12], [1, 3, 3, 1], [3, 1, 1, 33], [1, 9, 3, 5]]) {
    await checkOp(`globalAvgPool [${shape}]`, [{ data: randArray(prod(shape)), shape, grad: true }], ([t]) => {
      const y = ops.globalAvgPool(t!);
      assert.equal([...y.shape], [shape[0], shape[3]]);
      return y;
    }, ([a]) => avgPoolRef(a!, shape, shape[1]!, shape[2]!).y, { samples: prod(shape), atol: 1e-6 }); // w / (H·W) is small: a wrong divisor must fail
  }
});

test('pooling rejects bad arguments with clear messages', () => {
  const x = tensor(new Float32Array(2 * 3 * 3 * 4), [2, 3, 3, 4]);
  assert.throws(() => ops.maxPool2d(tensor(new Float32Array(4), [2, 2])), /maxPool2d: x must be NHWC/);
  assert.throws(() => ops.maxPool2d(x, { kernel: 4 }), /maxPool2d: input \[2,3,3,4\] is too small/);
  assert.throws(() => ops.maxPool2d(x, { kernel: 2, padding: 2 }), /maxPool2d: padding 2/);
  assert.throws(() => ops.avgPool2d(x, 0), /avgPool2d: kernel must be/);
  assert.throws(() => ops.globalAvgPool(tensor(new Float32Array(4), [4])), /globalAvgPool: x must be NHWC/);
});

test.run();
