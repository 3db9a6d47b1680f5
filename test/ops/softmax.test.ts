import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ops from '../../src/ops/all.js';
import { backward, scope, tensor } from '../../src/index.js';
import { assertClose, checkOp, prod, randArray } from '../helpers.js';
import { l2NormalizeRef, logSoftmaxRef, softmaxRef } from '../reference/softmax.js';

// B = 1, 7, 130 (more rows than a 64-row workgroup) x K = 1, 2, 10, 1000. Long rows take a
// workgroup each when there are few of them ([1,1000], [7,1000], [300]) and one invocation each
// otherwise on a CPU adapter ([9,300], [130,1000]); see rowLayout.
const shapes: number[][] = [[1, 1], [7, 2], [130, 10], [1, 1000], [7, 1000], [9, 300], [130, 1000], [130, 3], [2, 3, 5], [300]];

for (const [name, f, ref] of [
  ['softmax', ops.softmax, (x: Float64Array, k: number) => softmaxRef(x, k)],
  ['logSoftmax', ops.logSoftmax, logSoftmaxRef],
] as const) {
  test(`${name} forward + gradient`, async () => {
    for (const shape of shapes) {
      const K = shape[shape.length - 1]!;
      const x = randArray(prod(shape), undefined, -3, 3);
      // tight absolute tolerance: with K = 1000 the softmax gradients are ~1e-3
      await checkOp(`${name} [${shape}]`, [{ data: x, shape, grad: true }], ([t]) => f(t!), ([a]) => ref(a!, K), { fwdAtol: 1e-5, atol: 2e-5, rtol: 2e-3 });
    }
  });

  test(`${name} is stable for extreme logits (±80)`, async () => {
    for (const shape of [[7, 10], [3, 1000]]) {
      const K = shape[1]!;
      const x = randArray(prod(shape)).map((v, i) => (i % 3 === 0 ? 80 * Math.sign(v) : 80 * v));
      for (let r = 0; r < shape[0]!; r++) x[r * K + (r % K)] = 80; // every row has a +80
      x[K + 1] = -80;
      // the backward too: finite, and the reference's finite differences (eps 1e-3 is smooth at ±80)
      await checkOp(`${name} extreme [${shape}]`, [{ data: x, shape, grad: true }], ([t]) => f(t!), ([a]) => ref(a!, K), { fwdAtol: 1e-5, atol: 2e-5, rtol: 2e-3, samples: prod(shape) });
    }
    // all -80 rows (softmax of a constant row is uniform)
    await checkOp(`${name} all -80`, [{ data: new Float64Array(20).fill(-80), shape: [2, 10] }], ([t]) => f(t!), ([a]) => ref(a!, 10));
  });
}

test('softmax rows sum to 1 and the last-axis restriction is explained', async () => {
  const y = scope(() => ops.softmax(tensor(Float32Array.from(randArray(130 * 10, undefined, -5, 5)), [130, 10])));
  const v = await y.read();
  y.dispose();
  for (let r = 0; r < 130; r++) {
    let s = 0;
    for (let c = 0; c < 10; c++) s += v[r * 10 + c]!;
    assert.ok(Math.abs(s - 1) < 1e-5, `row ${r} sums to ${s}`);
  }
  const x = tensor(new Float32Array(6), [2, 3]);
  assert.throws(() => ops.softmax(x, 0), /softmax: only the last axis is supported \(got axis 0 for shape \[2,3\]\)/);
  ops.softmax(x, 1).dispose(); // axis 1 is the last one
  assert.throws(() => ops.logSoftmax(x, 2), /logSoftmax: axis 2 out of range/);
  assert.throws(() => ops.softmax(tensor(new Int32Array(3), [3])), /softmax: expected an f32 tensor, got i32/);
  assert.throws(() => ops.softmax(tensor([1], [])), /softmax: expected a tensor of rank >= 1/);
  x.dispose();
});

test('softmax followed by log and mean: chained gradient', async () => {
  const shape = [7, 10];
  const x = randArray(70, undefined, -2, 2);
  await checkOp(
    'log(softmax) == logSoftmax',
    [{ data: x, shape, grad: true }],
    ([t]) => ops.log(ops.softmax(t!)),
    ([a]) => logSoftmaxRef(a!, 10),
  );
});

test('l2Normalize forward + gradient', async () => {
  for (const shape of [[1, 1], [7, 2], [130, 10], [1, 1000], [7, 3072], [2, 3, 5]]) {
    const K = shape[shape.length - 1]!;
    const x = randArray(prod(shape), undefined, -2, 2);
    await checkOp(`l2Normalize [${shape}]`, [{ data: x, shape, grad: true }], ([t]) => ops.l2Normalize(t!), ([a]) => l2NormalizeRef(a!, K), { fwdAtol: 1e-5, atol: 2e-5, rtol: 2e-3 });
  }
});

test('l2Normalize clamps tiny norms at eps (forward and gradient g / eps)', async () => {
  // row 0 is all zeros (norm 0 < eps), row 1 is tiny but above a larger eps, row 2 is normal
  const eps = 1e-3;
  const x = Float64Array.from([0, 0, 0, 1e-4, -2e-4, 1e-4, 0.5, -1, 2].map(Math.fround));
  await checkOp('l2Normalize eps', [{ data: x, shape: [3, 3], grad: true }], ([t]) => ops.l2Normalize(t!, eps), ([a]) => l2NormalizeRef(a!, 3, eps), { eps: 1e-5, samples: 9 });
  // the zero row gets gradient g / eps exactly
  const g = Float32Array.from([1, 2, 3]);
  const xt = tensor(new Float32Array(3), [1, 3]);
  xt.requiresGrad = true;
  scope(() => {
    const z = ops.l2Normalize(xt, 1e-12);
    backward(ops.sum(ops.mul(z, tensor(g, [1, 3]))));
  });
  assertClose(await xt.grad!.read(), [1e12, 2e12, 3e12], 'zero-row gradient', 0, 1e-6);
  xt.grad!.dispose();
  xt.dispose();
  assert.throws(() => ops.l2Normalize(tensor([1, 2], [2]), 0), /l2Normalize: eps must be > 0/);
});

test('l2Normalize of unit-norm rows has unit norm', async () => {
  const y = scope(() => ops.l2Normalize(tensor(Float32Array.from(randArray(64 * 3072)), [64, 3072])));
  const v = await y.read();
  y.dispose();
  for (let r = 0; r < 64; r++) {
    let s = 0;
    for (let c = 0; c < 3072; c++) s += v[r * 3072 + c]! ** 2;
    assert.ok(Math.abs(Math.sqrt(s) - 1) < 1e-5, `row ${r} norm ${Math.sqrt(s)}`);
  }
});

test.run();
