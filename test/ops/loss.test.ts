import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ops from '../../src/ops/all.js';
import { backward, noGrad, rt, scope, tensor, type Tensor } from '../../src/index.js';
import { Rng } from '../../src/util/random.js';
import { assertClose, checkOp, prod, randArray } from '../helpers.js';
import { bceRef, crossEntropyRef, type Reduction } from '../reference/loss.js';

const rng = new Rng(99);
const labels = (B: number, K: number) => Int32Array.from({ length: B }, () => rng.int(K));

/** Runs fn on fresh tensors outside autograd and reads the result. */
async function run(fn: () => Tensor): Promise<Float32Array | Int32Array> {
  const y = scope(() => noGrad(fn));
  const v = await y.read();
  y.dispose();
  return v;
}

const ceShapes: [number, number][] = [[1, 1], [1, 2], [7, 10], [130, 10], [7, 1000], [130, 1000], [130, 2]];

test('crossEntropy forward + gradient (mean, sum, none; GPU and host targets)', async () => {
  for (const [B, K] of ceShapes) {
    for (const reduction of ['mean', 'sum', 'none'] as Reduction[]) {
      const t = labels(B, K);
      const x = randArray(B * K, undefined, -4, 4);
      const host = reduction === 'sum';
      await checkOp(
        `crossEntropy [${B},${K}] ${reduction}${host ? ' host targets' : ''}`,
        [{ data: x, shape: [B, K], grad: true }],
        // integer targets are created inside the callback (checkOp makes f32 inputs)
        ([l]) => ops.crossEntropy(l!, host ? t : tensor(t, [B]), { reduction }),
        ([a]) => crossEntropyRef(a!, t, K, reduction),
        { fwdAtol: 1e-4, fwdRtol: 1e-4, atol: 1e-5, rtol: 2e-3 },
      );
    }
  }
});

test('crossEntropy default reduction is the mean; no-grad forward matches', async () => {
  const B = 130, K = 10;
  const t = labels(B, K);
  const x = randArray(B * K, undefined, -3, 3);
  const v = await run(() => ops.crossEntropy(tensor(Float32Array.from(x), [B, K]), tensor(t, [B])));
  assertClose(v, crossEntropyRef(x, t, K, 'mean'), 'ce mean (no grad)', 1e-5, 1e-5);
});

test('crossEntropy is stable for extreme logits (±80)', async () => {
  for (const [B, K] of [[7, 10], [3, 1000]] as [number, number][]) {
    const t = labels(B, K);
    const x = randArray(B * K).map((v) => 80 * Math.sign(v));
    x[0] = 80;
    x[t[0]!] = -80; // a confidently wrong row: loss 160
    // the backward too (softmax − onehot at ±80: finite, and the reference's finite differences)
    await checkOp(`crossEntropy extreme [${B},${K}]`, [{ data: x, shape: [B, K], grad: true }], ([l]) => ops.crossEntropy(l!, tensor(t, [B]), { reduction: 'none' }), ([a]) => crossEntropyRef(a!, t, K, 'none'), { fwdAtol: 1e-4, fwdRtol: 1e-5, atol: 2e-5, rtol: 2e-3, samples: B * K });
  }
});

test('crossEntropy gradient rows are softmax - onehot, scaled by 1/B', async () => {
  const B = 3, K = 4;
  const x = tensor(Float32Array.from([0, 0, 0, 0, 1, 2, 3, 4, -80, 80, 0, 0]), [B, K]);
  x.requiresGrad = true;
  scope(() => backward(ops.crossEntropy(x, [1, 3, 1])));
  const g = await x.grad!.read();
  const e = [1, 2, 3, 4].map((v) => Math.exp(v - 4));
  const s = e.reduce((p, v) => p + v);
  const expected = [0.25, -0.75, 0.25, 0.25, ...e.map((v, i) => v / s - (i === 3 ? 1 : 0)), 0, 0, 0, 0].map((v) => v / 3);
  assertClose(g, expected, 'ce grad', 1e-6, 1e-5);
  x.grad!.dispose();
  x.dispose();
});

test('crossEntropy validates shapes, dtypes and host targets; GPU targets out of range give NaN', async () => {
  const x = tensor(new Float32Array(6), [2, 3]);
  assert.throws(() => ops.crossEntropy(x, [0, 3]), /crossEntropy: targets\[1\] = 3 is out of range \[0, 3\)/);
  assert.throws(() => ops.crossEntropy(x, [0, -1]), /out of range/);
  assert.throws(() => ops.crossEntropy(x, [0]), /crossEntropy: 1 targets for an expected shape \[2\]/);
  assert.throws(() => ops.crossEntropy(x, tensor(Float32Array.from([0, 1]), [2])), /crossEntropy: targets must be an i32 tensor, got f32/);
  assert.throws(() => ops.crossEntropy(x, tensor(Int32Array.from([0, 1, 2]), [3])), /crossEntropy: targets of shape \[3\] do not match the expected shape \[2\]/);
  assert.throws(() => ops.crossEntropy(tensor(new Float32Array(6), [6]), [0]), /crossEntropy: logits must be \[B, K\], got \[6\]/);
  assert.throws(() => ops.crossEntropy(tensor(new Int32Array(6), [2, 3]), [0, 1]), /crossEntropy: expected an f32 tensor, got i32/);
  assert.throws(() => ops.crossEntropy(x, [0, 1], { reduction: 'avg' as Reduction }), /crossEntropy: unknown reduction 'avg'/);
  const v = await run(() => ops.crossEntropy(x, tensor(Int32Array.from([1, 7]), [2]), { reduction: 'none' }));
  assert.ok(Math.abs(v[0]! - Math.log(3)) < 1e-6, `valid row ${v[0]}`);
  assert.ok(Number.isNaN(v[1]), `out-of-range row is NaN, got ${v[1]}`);
  x.dispose();
});

const bceShapes = [[1], [7, 10], [130, 10], [1, 1000], [3, 4, 5]];

test('bce forward + gradient w.r.t. p and target (mean, sum, none)', async () => {
  for (const shape of bceShapes) {
    for (const reduction of ['mean', 'sum', 'none'] as Reduction[]) {
      const n = prod(shape);
      const p = randArray(n, undefined, 0.05, 0.95);
      // hard 0/1 targets (REFINE's one-hot) mixed with soft ones
      const t = randArray(n, undefined, 0, 1).map((v, i) => (i % 3 === 0 ? v : Math.round(v)));
      await checkOp(
        `bce [${shape}] ${reduction}`,
        [{ data: p, shape, grad: true }, { data: t, shape, grad: true }],
        ([a, b]) => ops.bce(a!, b!, { reduction }),
        ([a, b]) => bceRef(a!, b!, reduction),
        { fwdAtol: 1e-5, fwdRtol: 1e-4, eps: 1e-4, atol: 1e-5, rtol: 2e-3 },
      );
    }
  }
});

test('bce clamps each log at -100 (p at and near 0 and 1)', async () => {
  const p = [0, 1, 0, 1, 1e-30, 1e-20, 1 - 2 ** -24, 0.5, 1e-30, 1 - 2 ** -24, 0, 1].map(Math.fround);
  const t = [0, 1, 1, 0, 1, 0, 1, 1, 0.3, 0.3, 0.25, 0.5];
  const P = Float64Array.from(p), T = Float64Array.from(t);
  await checkOp('bce extreme p', [{ data: P, shape: [12] }, { data: T, shape: [12] }], ([a, b]) => ops.bce(a!, b!, { reduction: 'none' }), ([a, b]) => bceRef(a!, b!, 'none'), { fwdAtol: 1e-4, fwdRtol: 1e-5 });
  const v = await run(() => ops.bce(tensor(Float32Array.from(p), [12]), tensor(Float32Array.from(t), [12]), { reduction: 'none' }));
  assert.is(v[0], 0);
  assert.is(v[1], 0);
  assert.is(v[2], 100);
  assert.is(v[3], 100);
  assert.ok(Math.abs(v[10]! - 25) < 1e-4, `p = 0, t = 0.25: 0.25 * 100 = ${v[10]}`);
  // gradients at the clamp stay finite (PyTorch's max(p(1-p), 1e-12) denominator)
  const pt = tensor(Float32Array.from(p), [12]);
  pt.requiresGrad = true;
  scope(() => backward(ops.bce(pt, tensor(Float32Array.from(t), [12]), { reduction: 'sum' })));
  const g = await pt.grad!.read();
  for (let i = 0; i < 12; i++) assert.ok(Number.isFinite(g[i]), `gradient ${i} = ${g[i]}`);
  assert.ok(Math.abs(g[2]! + 1e12) < 1e6, `dL/dp at p = 0, t = 1 is -1e12, got ${g[2]}`);
  pt.grad!.dispose();
  pt.dispose();
});

test('bce of remapped softmax (REFINE utility term) gradient', async () => {
  const B = 7, K = 10;
  const perm = [3, 0, 1, 2, 5, 4, 9, 6, 7, 8];
  const t = labels(B, K);
  const x = randArray(B * K, undefined, -2, 2);
  const ref = (a: Float64Array) => {
    const y = new Float64Array(B * K);
    const oh = new Float64Array(B * K);
    for (let b = 0; b < B; b++) {
      let m = -Infinity;
      for (let k = 0; k < K; k++) m = Math.max(m, a[b * K + k]!);
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.exp(a[b * K + k]! - m);
      for (let k = 0; k < K; k++) y[b * K + perm[k]!] = Math.exp(a[b * K + k]! - m) / s;
      oh[b * K + t[b]!] = 1;
    }
    return bceRef(y, oh, 'mean');
  };
  await checkOp('bce(remap(softmax(x)), onehot)', [{ data: x, shape: [B, K], grad: true }], ([l]) => ops.bce(ops.remapClasses(ops.softmax(l!), perm), ops.oneHot(tensor(t, [B]), K)), ([a]) => ref(a!), { atol: 1e-5, rtol: 2e-3 });
});

test('bce validates shapes and dtypes', () => {
  const p = tensor(new Float32Array(6), [2, 3]);
  assert.throws(() => ops.bce(p, tensor(new Float32Array(6), [3, 2])), /bce: probabilities \[2,3\] and targets \[3,2\] must have the same shape/);
  assert.throws(() => ops.bce(p, tensor(new Int32Array(6), [2, 3])), /bce: expected an f32 tensor, got i32/);
  p.dispose();
});

test('losses free their temporaries (forward, backward, released graphs)', async () => {
  const B = 130, K = 10;
  const x = tensor(Float32Array.from(randArray(B * K)), [B, K]);
  x.requiresGrad = true;
  const t = tensor(labels(B, K), [B]);
  await rt().sync();
  const before = rt().stats().bytesInUse;
  for (let i = 0; i < 3; i++) {
    scope(() => backward(ops.add(ops.crossEntropy(x, t), ops.bce(ops.remapClasses(ops.softmax(x), [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]), ops.oneHot(t, K)))));
    scope(() => {
      ops.crossEntropy(x, [...labels(B, K)], { reduction: 'none' }); // graph never back-propagated
    });
    x.grad!.dispose();
    x.grad = null;
  }
  await rt().sync();
  assert.is(rt().stats().bytesInUse, before);
  x.dispose();
  t.dispose();
});

test.run();
