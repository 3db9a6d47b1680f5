import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ops from '../../src/ops/all.js';
import { tensor } from '../../src/index.js';
import { assertClose, checkOp, prod, randArray } from '../helpers.js';
import { batchNormRef } from '../reference/norm.js';
import { Rng } from '../../src/util/random.js';

const shapes = [
  [1, 5, 7, 3],
  [2, 9, 3, 5],
  [2, 3, 3, 12],
  [1, 4, 5, 33],
  [3, 1, 1, 1],
  [1, 3, 5, 4], // the vec4-over-channels path with one group of 4
];

function params(C: number) {
  return {
    gamma: randArray(C, undefined, 0.5, 1.5),
    beta: randArray(C, undefined, -0.5, 0.5),
    rm: randArray(C, undefined, -0.3, 0.3),
    rv: randArray(C, undefined, 0.5, 2),
  };
}

for (const training of [true, false]) {
  test(`batchNorm2d ${training ? 'training' : 'eval'}: forward + gradients of x, gamma, beta`, async () => {
    for (const shape of shapes) {
      const C = shape[3]!;
      const x = randArray(prod(shape), undefined, -2, 2);
      const { gamma, beta, rm, rv } = params(C);
      await checkOp(
        `batchNorm2d(${training}) [${shape}]`,
        [{ data: x, shape, grad: true }, { data: gamma, shape: [C], grad: true }, { data: beta, shape: [C], grad: true }],
        ([t, g, b]) => ops.batchNorm2d(t!, g!, b!, tensor(Float32Array.from(rm), [C]), tensor(Float32Array.from(rv), [C]), { training }),
        ([t, g, b]) => batchNormRef(t!, C, g!, b!, rm, rv, training).y,
        { samples: 16 },
      );
    }
  });
}

/** x, BN parameters and a residual of `shape`, drawn from one seeded stream. */
function draw(shape: number[], seed: number) {
  const C = shape[3]!;
  const r = new Rng(seed);
  const x = randArray(prod(shape), r, -2, 2);
  const [gamma, beta, rm, rv] = [randArray(C, r, 0.5, 1.5), randArray(C, r, -0.5, 0.5), randArray(C, r, -0.3, 0.3), randArray(C, r, 0.5, 2)];
  return { x, gamma, beta, rm, rv, res: randArray(prod(shape), r, -1.5, 1.5) };
}

/**
 * The first draw (seeds 1, 2, ...) whose values before the ReLU all keep 1e-3 from its kink: the
 * central differences (eps 1e-5, on the float64 reference) then never straddle it.
 */
function kinkFree(shape: number[], preRelu: (d: ReturnType<typeof draw>) => Float64Array) {
  for (let seed = 1; ; seed++) {
    const d = draw(shape, seed);
    if (!preRelu(d).some((v) => Math.abs(v) < 1e-3)) return d;
  }
}

test('batchNorm2d with fused ReLU (training; eval falls back): forward + gradients of x, gamma, beta', async () => {
  for (const training of [true, false]) {
    for (const shape of [[2, 5, 3, 12], [1, 4, 5, 33], [2, 3, 3, 5]]) {
      const C = shape[3]!;
      const { x, gamma, beta, rm, rv } = kinkFree(shape, (d) => batchNormRef(d.x, C, d.gamma, d.beta, d.rm, d.rv, training).y);
      await checkOp(
        `batchNorm2d+relu(${training}) [${shape}]`,
        [{ data: x, shape, grad: true }, { data: gamma, shape: [C], grad: true }, { data: beta, shape: [C], grad: true }],
        ([t, g, b]) => ops.batchNorm2d(t!, g!, b!, tensor(Float32Array.from(rm), [C]), tensor(Float32Array.from(rv), [C]), { training, relu: true }),
        ([t, g, b]) => batchNormRef(t!, C, g!, b!, rm, rv, training).y.map((v) => Math.max(v, 0)),
        { samples: 16, eps: 1e-5 },
      );
    }
  }
});

test('batchNorm2d with a fused residual (and ReLU): forward + gradients of x, gamma, beta and the residual', async () => {
  for (const relu of [false, true]) {
    for (const training of [true, false]) {
      // scalar path (C = 5), vec4 path (C = 12, several rows per invocation), one row
      for (const shape of [[2, 5, 3, 12], [2, 3, 3, 5], [1, 1, 3, 8]]) {
        const C = shape[3]!;
        const sum = (t: Float64Array, g: Float64Array, b: Float64Array, q: Float64Array, rm: Float64Array, rv: Float64Array) =>
          batchNormRef(t, C, g, b, rm, rv, training).y.map((v, i) => v + q[i]!);
        // the ReLU's kink is at bn(x) + r = 0 (without the ReLU any draw will do)
        const { x, gamma, beta, rm, rv, res } = relu ? kinkFree(shape, (d) => sum(d.x, d.gamma, d.beta, d.res, d.rm, d.rv)) : draw(shape, 1);
        await checkOp(
          `batchNorm2d+residual${relu ? '+relu' : ''}(${training}) [${shape}]`,
          [{ data: x, shape, grad: true }, { data: gamma, shape: [C], grad: true }, { data: beta, shape: [C], grad: true }, { data: res, shape, grad: true }],
          ([t, g, b, q]) => ops.batchNorm2d(t!, g!, b!, tensor(Float32Array.from(rm), [C]), tensor(Float32Array.from(rv), [C]), { training, relu, residual: q! }),
          ([t, g, b, q]) => sum(t!, g!, b!, q!, rm, rv).map((v) => (relu ? Math.max(v, 0) : v)),
          { samples: 16, eps: 1e-5 },
        );
      }
    }
  }
});

test('batchNorm2d fused residual: the same values as bn, add and relu as separate ops; a residual of another shape is refused', async () => {
  const shape = [2, 4, 3, 8];
  const C = 8;
  const { gamma, beta, rm, rv } = params(C);
  const t = (d: Float64Array, s: number[]) => tensor(Float32Array.from(d), s);
  const x = randArray(prod(shape), undefined, -2, 2);
  const res = randArray(prod(shape), undefined, -1, 1);
  const fused = ops.batchNorm2d(t(x, shape), t(gamma, [C]), t(beta, [C]), t(rm, [C]), t(rv, [C]), { training: true, relu: true, residual: t(res, shape) });
  const apart = ops.relu(ops.add(ops.batchNorm2d(t(x, shape), t(gamma, [C]), t(beta, [C]), t(rm, [C]), t(rv, [C]), { training: true }), t(res, shape)));
  assertClose(await fused.read(), await apart.read(), 'fused vs separate', 1e-6, 1e-6);
  assert.throws(
    () => ops.batchNorm2d(t(x, shape), t(gamma, [C]), t(beta, [C]), t(rm, [C]), t(rv, [C]), { training: true, residual: t(res.subarray(0, 48), [2, 4, 3, 2]) }),
    /residual must have x's shape \[2,4,3,8\], got \[2,4,3,2\]/,
  );
});

test('batchNorm2d eval: gradient of x alone (frozen network path)', async () => {
  const shape = [2, 5, 3, 12];
  const C = 12;
  const { gamma, beta, rm, rv } = params(C);
  await checkOp(
    'batchNorm2d eval dx only',
    [{ data: randArray(prod(shape)), shape, grad: true }, { data: gamma, shape: [C] }, { data: beta, shape: [C] }],
    ([t, g, b]) => ops.batchNorm2d(t!, g!, b!, tensor(Float32Array.from(rm), [C]), tensor(Float32Array.from(rv), [C]), { training: false }),
    ([t, g, b]) => batchNormRef(t!, C, g!, b!, rm, rv, false).y,
  );
});

test('batchNorm2d training updates the running statistics in place (unbiased variance)', async () => {
  for (const [shape, momentum] of [[[2, 9, 3, 5], 0.1], [[1, 5, 7, 33], 0.3]] as const) {
    const C = shape[3];
    const x = randArray(prod(shape), undefined, -1, 3);
    const { gamma, beta, rm, rv } = params(C);
    const rmT = tensor(Float32Array.from(rm), [C]);
    const rvT = tensor(Float32Array.from(rv), [C]);
    const y = ops.batchNorm2d(tensor(Float32Array.from(x), [...shape]), tensor(Float32Array.from(gamma), [C]), tensor(Float32Array.from(beta), [C]), rmT, rvT, { training: true, momentum });
    const ref = batchNormRef(x, C, gamma, beta, rm, rv, true, momentum);
    assertClose(await y.read(), ref.y, 'y');
    assertClose(await rmT.read(), ref.runningMean, 'runningMean', 1e-5, 1e-5);
    assertClose(await rvT.read(), ref.runningVar, 'runningVar', 1e-5, 1e-5);
    // eval mode leaves them alone
    ops.batchNorm2d(tensor(Float32Array.from(x), [...shape]), tensor(Float32Array.from(gamma), [C]), tensor(Float32Array.from(beta), [C]), rmT, rvT, { training: false });
    assertClose(await rmT.read(), ref.runningMean, 'runningMean after eval', 1e-5, 1e-5);
  }
});

test('batchNorm2d statistics are stable with a large offset (no E[x²]−E[x]² cancellation)', async () => {
  const shape = [4, 32, 32, 3];
  const C = 3;
  // the reference sees the f32-rounded input
  const x = Float64Array.from(Float32Array.from(randArray(prod(shape), undefined, -0.01, 0.01).map((v) => v + 1000)));
  const { gamma, beta, rm } = params(C);
  // running variance from 0 with momentum 1: it becomes the batch's unbiased variance (~3e-5),
  // which a cancelling E[x²]−E[x]² would get wrong by far more than the 1e-3 relative tolerance
  const rv = new Float64Array(C);
  const rvT = tensor(Float32Array.from(rv), [C]);
  const y = ops.batchNorm2d(tensor(Float32Array.from(x), shape), tensor(Float32Array.from(gamma), [C]), tensor(Float32Array.from(beta), [C]), tensor(Float32Array.from(rm), [C]), rvT, { training: true, momentum: 1 });
  const ref = batchNormRef(x, C, gamma, beta, rm, rv, true, 1);
  assertClose(await y.read(), ref.y, 'y', 2e-3, 2e-3);
  assertClose(await rvT.read(), ref.runningVar, 'runningVar', 1e-9, 1e-3);
});

test('batchNorm2d rejects bad shapes with clear messages', () => {
  const x = tensor(new Float32Array(2 * 3 * 3 * 4), [2, 3, 3, 4]);
  const p = tensor(new Float32Array(4), [4]);
  const q = tensor(new Float32Array(5), [5]);
  assert.throws(() => ops.batchNorm2d(x, q, p, p, p, { training: true }), /batchNorm2d: gamma must have shape \[4\]/);
  assert.throws(() => ops.batchNorm2d(tensor(new Float32Array(4), [4]), p, p, p, p, { training: true }), /batchNorm2d: x must be NHWC/);
  assert.throws(() => ops.batchNorm2d(tensor(new Float32Array(4), [1, 1, 1, 4]), p, p, p, p, { training: true }), /more than 1 value/);
});

test.run();
