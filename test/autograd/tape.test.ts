import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backward, keep, noGrad, scope, tensor, rt, releaseGraph } from '../../src/index.js';
import * as ops from '../../src/ops/all.js';
import { assertClose } from '../helpers.js';

function leaf(data: number[], shape?: number[]) {
  const t = keep(tensor(data, shape));
  t.requiresGrad = true;
  return t;
}

test('shared subgraphs are visited once and gradients accumulate (diamond)', async () => {
  const x = leaf([0.5, -1, 2]);
  scope(() => {
    const a = ops.mul(x, x); // x²
    const b = ops.add(a, a); // 2x² reuses a twice
    const c = ops.mul(b, x); // 2x³
    backward(ops.sum(c));
  });
  assertClose(await x.grad!.read(), [0.5, -1, 2].map((v) => 6 * v * v), 'd(2x³)/dx');
  x.grad!.dispose();
  x.dispose();
});

test('y = x + x: one tensor used twice as the inputs of one op', async () => {
  const x = leaf([1, 2, 3]);
  scope(() => backward(ops.sum(ops.add(x, x))));
  assertClose(await x.grad!.read(), [2, 2, 2], 'd(x+x)/dx');
  // a second backward accumulates into .grad
  scope(() => backward(ops.sum(ops.mul(x, x))));
  assertClose(await x.grad!.read(), [4, 6, 8], 'accumulated');
  x.grad!.dispose();
  x.dispose();
});

test('noGrad records nothing; detach cuts the graph', () => {
  const x = leaf([1, 2]);
  scope(() => {
    const y = noGrad(() => ops.mul(x, x));
    assert.is(y.requiresGrad, false);
    assert.is(y.node, null);
    const z = ops.detach(ops.mul(x, x));
    assert.is(z.requiresGrad, false);
    assert.throws(() => backward(ops.sum(z)), /does not require grad/);
  });
  x.dispose();
});

test('a frozen input (requiresGrad false) gets no gradient, its partner does', async () => {
  const w = keep(tensor([3, 4])); // frozen "weight"
  const x = leaf([1, 2]);
  scope(() => backward(ops.sum(ops.mul(w, x))));
  assert.is(w.grad, null);
  assertClose(await x.grad!.read(), [3, 4], 'dx');
  x.grad!.dispose();
  x.dispose();
  w.dispose();
});

test('scope frees intermediates and unused graphs; returned tensors survive', async () => {
  const before = rt().stats().bytesInUse;
  const x = leaf([1, 2, 3, 4]);
  const kept = scope(() => {
    const y = ops.exp(ops.mul(x, x)); // graph recorded, never back-propagated
    ops.sum(y);
    return ops.detach(ops.sum(y));
  });
  const want = [1, 4, 9, 16].reduce((p, v) => p + Math.exp(v), 0); // ≈ 8.9e6, float32 keeps ~7 digits
  assert.ok(Math.abs((await kept.item()) - want) < 1e-5 * want, `sum of exp(x²) ${await kept.item()} vs ${want}`);
  kept.dispose();
  x.dispose();
  assert.is(rt().stats().bytesInUse, before, 'all bytes returned to the pool');
});

test('a graph returned from a scope can be back-propagated later', async () => {
  const x = leaf([2, 3]);
  const loss = scope(() => ops.sum(ops.mul(ops.exp(x), x)));
  backward(loss);
  loss.dispose();
  // d(x e^x) = e^x (1 + x)
  assertClose(await x.grad!.read(), [Math.exp(2) * 3, Math.exp(3) * 4], 'grad after scope', 1e-3, 1e-4);
  x.grad!.dispose();
  x.dispose();
});

test('releaseGraph frees saved tensors of a graph never back-propagated', () => {
  const before = rt().stats().bytesInUse;
  const x = leaf([1, 2, 3]);
  const a = ops.mul(x, x); // saves x (twice)
  const y = ops.exp(a); // saves y
  a.dispose();
  y.dispose();
  x.dispose();
  assert.ok(rt().stats().bytesInUse > before, 'saved tensors outlive their handles');
  releaseGraph(y);
  assert.is(rt().stats().bytesInUse, before);
});

test('backward needs a scalar or an explicit gradient', () => {
  const x = leaf([1, 2]);
  scope(() => {
    assert.throws(() => backward(ops.mul(x, x)), /gradOut is required/);
  });
  x.dispose();
});

test('gradient shape mismatch in an op is reported with the op name', () => {
  const x = leaf([1, 2]);
  scope(() => {
    const y = ops.mul(x, x);
    // corrupt the node's backward to return a wrong shape
    const node = y.node!;
    (node as unknown as { backward: unknown }).backward = () => [tensor([1, 2, 3]), null];
    assert.throws(() => backward(ops.sum(y)), /mul returned a gradient of shape \[3\]/);
  });
  x.dispose();
});

test('backward() twice on one graph throws instead of silently doing nothing', async () => {
  const x = tensor(new Float32Array([1, 2, 3]));
  x.requiresGrad = true;
  const y = ops.sum(ops.square(x));
  backward(y);
  assert.equal(Array.from(await x.grad!.read()), [2, 4, 6]);
  assert.throws(() => backward(y), /already differentiated .* run the forward again/);
  assert.equal(Array.from(await x.grad!.read()), [2, 4, 6], 'the gradient is unchanged');
  for (const t of [x.grad!, x, y]) t.dispose();
});

test.run();
