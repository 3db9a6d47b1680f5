import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ops from '../../src/ops/all.js';
import { noGrad, scope, tensor, type Tensor } from '../../src/index.js';
import { Rng } from '../../src/util/random.js';
import { assertClose, checkOp, randArray } from '../helpers.js';
import { argmaxRef, gatherColsRef, invertPerm, oneHotRef, scatterColsRef, takeAlongRef } from '../reference/index.js';

const rng = new Rng(4242);
const ints = (n: number, k: number) => Int32Array.from({ length: n }, () => rng.int(k));
const perm = (k: number) => rng.shuffle(Int32Array.from({ length: k }, (_, i) => i)) as Int32Array;
/** a derangement (REFINE's mapping): rejection sampling as in the official code */
function derangement(k: number): Int32Array {
  for (;;) {
    const p = perm(k);
    if (p.every((v, i) => v !== i)) return p;
  }
}

/** f32-representable data, so that exact comparisons are meaningful */
const rand32 = (n: number) => randArray(n).map(Math.fround);

async function run(fn: () => Tensor): Promise<Float32Array | Int32Array> {
  const y = scope(() => noGrad(fn));
  const v = await y.read();
  y.dispose();
  return v;
}

const shapes: [number, number][] = [[1, 1], [1, 2], [7, 10], [130, 10], [7, 1000], [130, 2]];

// gradients on every element (samples: B * K): these ops are linear, so the finite differences
// are exact, and a gradient with a handful of nonzero entries in thousands needs them all
test('gatherCols forward + gradient (subsets, repeats: the gradient scatter-adds)', async () => {
  for (const [B, K] of shapes) {
    for (const J of [1, K, 2 * K + 1]) {
      const idx = ints(J, K);
      const x = rand32(B * K);
      await checkOp(`gatherCols [${B},${K}] J=${J}`, [{ data: x, shape: [B, K], grad: true }], ([t]) => ops.gatherCols(t!, tensor(idx, [J])), ([a]) => gatherColsRef(a!, K, idx), { fwdAtol: 0, fwdRtol: 0, atol: 1e-5, rtol: 1e-4, samples: B * K });
    }
  }
  // rank 3 with host indices
  const idx = [2, 0, 0, 1];
  await checkOp('gatherCols [2,3,3] host idx', [{ data: rand32(18), shape: [2, 3, 3], grad: true }], ([t]) => ops.gatherCols(t!, idx), ([a]) => gatherColsRef(a!, 3, idx));
});

test('scatterCols forward + gradient (injective, into more columns)', async () => {
  for (const [B, K] of shapes) {
    for (const outCols of [K, K + 3]) {
      const idx = perm(outCols).slice(0, K);
      const x = rand32(B * K);
      await checkOp(`scatterCols [${B},${K}] -> ${outCols}`, [{ data: x, shape: [B, K], grad: true }], ([t]) => ops.scatterCols(t!, tensor(idx, [K]), outCols), ([a]) => scatterColsRef(a!, K, idx, outCols), { fwdAtol: 0, fwdRtol: 0, atol: 1e-5, rtol: 1e-4, samples: B * K });
    }
  }
});

test('remapClasses: y[:, perm[j]] = p[:, j]; round trips are the identity', async () => {
  for (const [B, K] of [[1, 2], [7, 10], [130, 10], [7, 1000]] as [number, number][]) {
    const p = derangement(K);
    const inv = invertPerm(p);
    const x = rand32(B * K);
    await checkOp(`remapClasses [${B},${K}]`, [{ data: x, shape: [B, K], grad: true }], ([t]) => ops.remapClasses(t!, p), ([a]) => scatterColsRef(a!, K, p, K), { fwdAtol: 0, fwdRtol: 0, atol: 1e-5, rtol: 1e-4, samples: B * K });
    const X = () => tensor(Float32Array.from(x), [B, K]);
    const x32 = Float32Array.from(x);
    // scatter with perm, then scatter with the inverse
    assertClose(await run(() => ops.remapClasses(ops.remapClasses(X(), p), tensor(inv, [K]))), x32, 'remap(remap(x, p), p^-1)', 0, 0);
    // scatter with perm, then gather with perm (= scatter with the inverse)
    assertClose(await run(() => ops.gatherCols(ops.scatterCols(X(), p, K), p)), x32, 'gather(scatter(x, p), p)', 0, 0);
    // scatter with perm equals gather with the inverse
    assertClose(await run(() => ops.gatherCols(X(), inv)), await run(() => ops.remapClasses(X(), p)), 'gather(x, p^-1) == remap(x, p)', 0, 0);
  }
  // prediction = argmax(remap(softmax(z))) = perm[argmax(z)]
  const z = randArray(130 * 10, undefined, -3, 3);
  const p = derangement(10);
  const pred = await run(() => ops.argmax(ops.remapClasses(ops.softmax(tensor(Float32Array.from(z), [130, 10])), tensor(p, [10]))));
  assert.equal([...pred], [...argmaxRef(z, 10)].map((c) => p[c]!));
});

test('takeAlong forward + gradient', async () => {
  for (const [B, K] of shapes) {
    const idx = ints(B, K);
    await checkOp(`takeAlong [${B},${K}]`, [{ data: rand32(B * K), shape: [B, K], grad: true }], ([t]) => ops.takeAlong(t!, tensor(idx, [B])), ([a]) => takeAlongRef(a!, K, idx), { fwdAtol: 0, fwdRtol: 0, atol: 1e-5, rtol: 1e-4, samples: B * K });
  }
  // rank 3: idx [2, 3]; host indices
  const idx = [0, 3, 1, 2, 2, 0];
  await checkOp('takeAlong [2,3,4]', [{ data: rand32(24), shape: [2, 3, 4], grad: true }], ([t]) => ops.takeAlong(t!, idx), ([a]) => takeAlongRef(a!, 4, idx));
});

test('argmax: first maximum on ties, long rows, rank 1', async () => {
  const x = Float64Array.from([1, 3, 3, 2, /**/ 5, 5, 5, 5, /**/ -1, -2, -1, -3, /**/ 0, 0, 0, 1e-7, /**/ -80, -80, -79.5, -79.5]);
  await checkOp('argmax ties', [{ data: x, shape: [5, 4] }], ([t]) => ops.argmax(t!), ([a]) => argmaxRef(a!, 4), { fwdAtol: 0, fwdRtol: 0 });
  assert.equal([...argmaxRef(x, 4)], [1, 0, 0, 3, 2]);
  for (const [B, K] of [[1, 1], [130, 10], [7, 1000]] as [number, number][]) {
    const r = randArray(B * K).map((v) => Math.round(v * 4)); // many ties
    await checkOp(`argmax [${B},${K}]`, [{ data: r, shape: [B, K] }], ([t]) => ops.argmax(t!), ([a]) => argmaxRef(a!, K), { fwdAtol: 0, fwdRtol: 0 });
  }
  const v = await run(() => ops.argmax(tensor([0.5, 2, -1, 2], [4])));
  assert.ok(v instanceof Int32Array);
  assert.equal([...v], [1]);
});

test('oneHot', async () => {
  for (const [B, K] of [[1, 1], [7, 10], [130, 10], [3, 1000]] as [number, number][]) {
    const idx = ints(B, K);
    assertClose(await run(() => ops.oneHot(tensor(idx, [B]), K)), oneHotRef(idx, K), `oneHot [${B}] K=${K}`, 0, 0);
    assertClose(await run(() => ops.oneHot([...idx], K)), oneHotRef(idx, K), `oneHot host [${B}] K=${K}`, 0, 0);
  }
  // GPU labels out of range give a zero row
  assertClose(await run(() => ops.oneHot(tensor(Int32Array.from([1, 5, -1]), [3]), 3)), [0, 1, 0, 0, 0, 0, 0, 0, 0], 'oneHot out of range', 0, 0);
  // more than 65535 workgroups: the runtime folds the dispatch into 2-D
  const big = ints(420_000, 11);
  const oh = await run(() => ops.oneHot(tensor(big, [big.length]), 11));
  let bad = -1;
  for (let r = 0; r < big.length && bad < 0; r++) for (let c = 0; c < 11; c++) if (oh[r * 11 + c] !== (c === big[r] ? 1 : 0)) bad = r;
  assert.is(bad, -1, `oneHot [420000] x 11: row ${bad} is wrong`);
  const y = scope(() => ops.oneHot(tensor(Int32Array.from([0, 1, 2, 1]), [2, 2]), 3));
  assert.equal(y.shape, [2, 2, 3]);
  y.dispose();
});

test('index ops validate shapes, dtypes and host indices', () => {
  scope(() => {
    const x = tensor(new Float32Array(6), [2, 3]);
    const xi = tensor(new Int32Array(6), [2, 3]);
    assert.throws(() => ops.gatherCols(x, [0, 3]), /gatherCols: indices\[1\] = 3 is out of range \[0, 3\)/);
    assert.throws(() => ops.gatherCols(xi, [0]), /gatherCols: expected an f32 tensor, got i32 \[2,3\]/);
    assert.throws(() => ops.gatherCols(x, tensor(Float32Array.from([0]), [1])), /gatherCols: indices must be an i32 tensor, got f32/);
    assert.throws(() => ops.gatherCols(x, tensor(new Int32Array(4), [2, 2])), /gatherCols: indices must be 1-D, got \[2,2\]/);
    assert.throws(() => ops.scatterCols(x, [0, 1], 3), /scatterCols: 2 indices for 3 columns of x \[2,3\]/);
    assert.throws(() => ops.scatterCols(x, [0, 1, 1], 3), /scatterCols: index 1 appears twice/);
    assert.throws(() => ops.scatterCols(x, [0, 1, 5], 4), /scatterCols: indices\[2\] = 5 is out of range \[0, 4\)/);
    assert.throws(() => ops.scatterCols(x, [0, 1, 2], 1.5), /scatterCols: outCols must be a non-negative integer/);
    assert.throws(() => ops.remapClasses(x, [1, 0]), /remapClasses: a permutation of 2 for 3 classes of p \[2,3\]/);
    assert.throws(() => ops.remapClasses(x, [1, 0, 1]), /index 1 appears twice/);
    assert.throws(() => ops.takeAlong(x, [0, 1, 2]), /takeAlong: 3 indices for an expected shape \[2\]/);
    assert.throws(() => ops.takeAlong(x, tensor(Int32Array.from([0, 1]), [1, 2])), /takeAlong: indices of shape \[1,2\] do not match the expected shape \[2\]/);
    assert.throws(() => ops.argmax(xi), /argmax: expected an f32 tensor, got i32/);
    assert.throws(() => ops.argmax(tensor(new Float32Array(0), [2, 0])), /argmax: the last axis of \[2,0\] is empty/);
    assert.throws(() => ops.oneHot([0, 3], 3), /oneHot: labels\[1\] = 3 is out of range \[0, 3\)/);
    assert.throws(() => ops.oneHot(x, 3), /oneHot: labels must be an i32 tensor, got f32/);
  });
});

test.run();
