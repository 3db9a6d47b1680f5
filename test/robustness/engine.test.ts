/**
 * Bad-input corpus, engine misuse: shapes that do not fit an op, disposed tensors, allocations
 * beyond the adapter, and NaN/Inf values. Misuse throws at the op that caused it, naming the op
 * and the shapes, and the device keeps working. NaN/Inf values keep PyTorch's semantics inside the
 * ops (they propagate); the trainers notice them (a DivergedError instead of a saved model).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { empty, rt, tensor, type Tensor } from '../../src/index.js';
import * as ops from '../../src/ops/all.js';
import { ResNet18 } from '../../src/nn/resnet.js';
import { checkLoss, checkParameters, DivergedError } from '../../src/train/resume.js';
import { fails, failsAsync } from './corpus.js';

const t = (shape: number[], v = 1): Tensor => ops.full(shape, v);

/** Runs `fn` on fresh tensors of `shapes`, disposing them afterwards. */
function withTensors(shapes: number[][], fn: (...xs: Tensor[]) => unknown): () => void {
  return () => {
    const xs = shapes.map((s) => t(s));
    try {
      const r = fn(...xs);
      if (r && typeof r === 'object' && 'dispose' in r) (r as Tensor).dispose();
    } finally {
      for (const x of xs) x.dispose();
    }
  };
}

const shapeCases: [string, number[][], (...xs: Tensor[]) => unknown, RegExp][] = [
  ['add of shapes that do not broadcast', [[2, 3], [4, 3]], (a, b) => ops.add(a!, b!), /add: shapes \[2,3\] and \[4,3\] do not broadcast/],
  ['matmul with different inner dimensions', [[2, 3], [4, 5]], (a, b) => ops.matmul(a!, b!), /matmul: inner dimensions differ: \[2,3\] · \[4,5\]/],
  ['matmul of a vector', [[3], [3, 2]], (a, b) => ops.matmul(a!, b!), /inputs must have rank >= 2/],
  ['linear with the wrong input width', [[2, 5], [4, 3]], (x, w) => ops.linear(x!, w!), /linear: x \[2,5\] does not match weight \[4,3\]/],
  ['conv2d with the wrong channel count', [[1, 5, 5, 3], [3, 3, 2, 4]], (x, w) => ops.conv2d(x!, w!), /conv2d: x has 3 input channels but w expects 2/],
  ['conv2d of a rank-3 input', [[5, 5, 3], [3, 3, 3, 4]], (x, w) => ops.conv2d(x!, w!), /conv2d: x must be NHWC \(rank 4\)/],
  ['reshape to another size', [[2, 3]], (x) => ops.reshape(x!, [4, 2]), /reshape: cannot reshape \[2,3\] into \[4,2\]/],
  ['permute with a repeated axis', [[2, 3]], (x) => ops.permute(x!, [0, 0]), /permute: \[0,0\] is not a permutation of 2 axes/],
  ['slice past the end', [[2, 3]], (x) => ops.slice(x!, [0, 0], [2, 4]), /slice: \[0,0\]\.\.\[2,4\] out of bounds for \[2,3\]/],
  ['concat of shapes differing outside the axis', [[2, 3], [2, 4]], (a, b) => ops.concat([a!, b!], 0), /concat: shapes \[2,3\] and \[2,4\] differ outside axis 0/],
  ['batch norm of a rank-2 input', [[4, 3], [3], [3], [3], [3]], (x, g, b, m, v) => ops.batchNorm2d(x!, g!, b!, m!, v!, { training: true, momentum: 0.1, eps: 1e-5 }), /batchNorm2d: x must be NHWC/],
  ['cross-entropy with a label past the classes', [[2, 3]], (x) => ops.crossEntropy(x!, [0, 3]), /crossEntropy: targets\[1\] = 3 is out of range \[0, 3\)/],
  ['cross-entropy with too few labels', [[2, 3]], (x) => ops.crossEntropy(x!, [0]), /crossEntropy: 1 targets for an expected shape \[2\]/],
  ['cross-entropy with a fractional label', [[2, 3]], (x) => ops.crossEntropy(x!, [0, 1.5]), /targets\[1\] = 1\.5 is out of range/],
  ['softmax over an axis the tensor lacks', [[2, 3]], (x) => ops.softmax(x!, 2), /^softmax: axis 2 out of range for rank 2/],
];
for (const [what, shapes, fn, re] of shapeCases) {
  test(`engine: ${what} throws at the op, naming it and the shapes`, () => fails(withTensors(shapes, fn), re));
}

test('engine: host data that does not fill the shape', () => {
  fails(() => tensor([1, 2, 3], [2, 2]), /tensor: 3 values do not fill shape \[2,2\]/);
});

test('engine: a negative or fractional dimension', () => {
  fails(() => empty([2, -1]), /invalid dimension -1/);
  fails(() => empty([2.5]), /invalid dimension 2\.5/);
});

test('engine: an op on a disposed tensor names the tensor', () => {
  const x = t([2, 3]);
  x.dispose();
  const y = t([2, 3]);
  fails(() => ops.add(x, y), /\[2,3\] was disposed/);
  y.dispose();
});

test('engine: reading a disposed tensor names it', async () => {
  const x = t([4]);
  x.dispose();
  await failsAsync(() => x.read(), /\[4\] was disposed/);
});

test('engine: item() of a tensor with more than one value', async () => {
  const x = t([2]);
  await failsAsync(() => x.item(), /item\(\) on a tensor of shape \[2\]/);
  x.dispose();
});

test('engine: an allocation over the adapter limit is refused where it is made; the device keeps working', async () => {
  const limit = rt().limits.maxStorageBufferBindingSize;
  fails(() => ops.full([Math.floor(limit / 4) + 1024], 0), /over this adapter's [\d.]+ MiB limit for one storage buffer binding/);
  const s = ops.sum(t([3], 2));
  assert.is(await s.item(), 6);
  s.dispose();
});

test('NaN/Inf: softmax of a row holding NaN is NaN in that row only (as in PyTorch)', async () => {
  const x = tensor([1, NaN, 0, 1, 2, 3], [2, 3]);
  const y = ops.softmax(x);
  const v = Array.from((await y.read()) as Float32Array);
  assert.ok(v.slice(0, 3).every(Number.isNaN), `row 0: ${v.slice(0, 3)}`);
  assert.ok(v.slice(3).every(Number.isFinite) && Math.abs(v[3]! + v[4]! + v[5]! - 1) < 1e-6, `row 1: ${v.slice(3)}`);
  for (const a of [x, y]) a.dispose();
});

test('NaN/Inf: cross-entropy of logits holding +Infinity is not finite, and the trainers stop on it', async () => {
  const x = tensor([Infinity, 0, 0, 1, 2, 3], [2, 3]);
  const loss = ops.crossEntropy(x, [1, 2]);
  const v = await loss.item();
  assert.not.ok(Number.isFinite(v), `loss ${v}`);
  fails(() => checkLoss(v, 'epoch 1 step 3', 'runs/x'), /epoch 1 step 3: the loss is (NaN|Infinity)/, 'runs/x');
  assert.throws(() => checkLoss(v, 'epoch 1 step 3'), (e: Error) => e instanceof DivergedError);
  for (const a of [x, loss]) a.dispose();
});

test('NaN/Inf: batch norm of a batch holding Infinity poisons the running statistics, which the checkpoint check catches', async () => {
  const m = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 1 });
  const x = tensor(Float32Array.from({ length: 2 * 8 * 8 }, (_, i) => (i === 5 ? Infinity : (i % 7) / 7)), [2, 8, 8, 1]);
  const y = m.forward(x);
  y.dispose();
  x.dispose();
  await failsAsync(() => checkParameters(m, 'epoch 2', 'runs/y'), /running_(mean|var) holds (NaN|Infinity|-Infinity): training diverged/, 'runs/y');
  m.dispose();
});

test.run();
