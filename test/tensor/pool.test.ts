import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backward, keep, rt, scope, tensor } from '../../src/index.js';
import { empty } from '../../src/tensor/tensor.js';
import * as ops from '../../src/ops/all.js';
import { SGD } from '../../src/nn/optim.js';
import { bucketSize } from '../../src/tensor/pool.js';
import { Rng } from '../../src/util/random.js';

test('bucket sizes round up by at most 25% and are monotonic', () => {
  let prev = 0;
  for (let b = 1; b < 1 << 22; b = Math.ceil(b * 1.37) + 3) {
    const s = bucketSize(b);
    assert.ok(s >= b && s <= Math.max(256, b * 1.25 + 1), `bucket ${s} for ${b}`);
    assert.ok(s >= prev);
    prev = s;
  }
});

test('1000 training steps keep pool memory flat', async () => {
  // logistic regression on a synthetic problem: every step allocates and frees intermediates
  const rng = new Rng(3);
  const D = 16;
  const B = 64;
  const xs = new Float32Array(B * D).map(() => rng.uniform(-1, 1));
  const wTrue = Array.from({ length: D }, () => rng.uniform(-1, 1));
  const ys = new Float32Array(B).map((_, i) => (xs.subarray(i * D, i * D + D).reduce((p, v, j) => p + v * wTrue[j]!, 0) > 0 ? 1 : 0));
  const X = keep(tensor(xs, [B, D]));
  const Y = keep(tensor(ys, [B, 1]));
  const w = keep(ops.zeros([1, D]));
  w.requiresGrad = true;
  const opt = new SGD([w], { lr: 0.5, momentum: 0.9 });
  const step = () =>
    scope(() => {
      const logits = ops.sum(ops.mul(X, w), 1, true);
      const p = ops.sigmoid(logits);
      // squared error keeps this test to the ops of this file
      const loss = ops.mean(ops.square(ops.sub(p, Y)));
      opt.zeroGrad();
      backward(loss);
      opt.step();
      return ops.detach(loss);
    });
  const first = step();
  const firstLoss = await first.item();
  first.dispose();
  for (let i = 0; i < 20; i++) step().dispose();
  await rt().sync();
  const base = rt().stats();
  let last = 0;
  for (let i = 0; i < 1000; i++) {
    const l = step();
    if (i === 999) last = await l.item();
    l.dispose();
  }
  await rt().sync();
  const after = rt().stats();
  assert.is(after.bytesInUse, base.bytesInUse, `bytes in use grew: ${base.bytesInUse} -> ${after.bytesInUse}`);
  assert.is(after.bytesAllocated, base.bytesAllocated, `pool grew: ${base.bytesAllocated} -> ${after.bytesAllocated}`);
  assert.ok(last < firstLoss * 0.5, `the model learned (loss ${firstLoss} -> ${last})`);
  opt.dispose();
  for (const t of [X, Y, w, w.grad]) t?.dispose();
});

test('a tensor over the adapter binding limit is refused where it is made (with a batch that fits); the device keeps working', async () => {
  const limit = rt().limits.maxStorageBufferBindingSize;
  const per = 224 * 224 * 32; // one UNet activation of a 224-px image at c = 32
  const batch = Math.floor(limit / (4 * per)) + 1;
  const fits = Math.floor(limit / (4 * per));
  assert.throws(
    () => empty([batch, 224, 224, 32]),
    (e: Error) => e.message.includes(`tensor [${batch},224,224,32]`) && /over this adapter's [\d.]+ MiB limit for one storage buffer binding \(maxStorageBufferBindingSize\)/.test(e.message) && e.message.endsWith(`use a batch of at most ${fits}`),
  );
  // just under the limit: allocated (the pool's bucket must not round it past the limit) and usable
  const n = Math.floor(limit / 4) - 64;
  const big = ops.full([n], 1);
  const s = ops.sum(big);
  assert.is(await s.item(), n);
  for (const t of [big, s]) t.dispose();
  const x = tensor(new Float32Array([1, 2, 3]));
  const y = ops.mul(x, x);
  assert.equal(Array.from(await y.read()), [1, 4, 9]);
  for (const t of [x, y]) t.dispose();
});

test.run();
