// The 'coalesced' invocation layout of the memory-bound kernels (src/ops/memory-plan.ts: 256-wide
// workgroups, one row per invocation in the batch-norm passes, ~64k partial sums) against the same
// float64 references as the default 'lanes' layout, which the other op tests cover.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ops from '../../src/ops/all.js';
import { backward, tensor } from '../../src/index.js';
import { setTunedVariant } from '../../src/ops/tuning.js';
import { assertClose, checkOp, prod, randArray } from '../helpers.js';
import { batchNormRef } from '../reference/norm.js';
import { resizeRef } from '../reference/resize.js';
import { Rng } from '../../src/util/random.js';

async function under<T>(v: ops.MemoryVariant, fn: () => Promise<T>): Promise<T> {
  const prev = ops.getMemoryVariant();
  ops.setMemoryVariant(v);
  try {
    return await fn();
  } finally {
    ops.setMemoryVariant(prev);
  }
}

test('memoryLayout follows the forced variant, else the autotuned one, else lanes', () => {
  const prev = ops.getMemoryVariant();
  try {
    ops.setMemoryVariant('auto');
    assert.is(ops.memoryLayout().family, 'lanes');
    setTunedVariant('memory', 'coalesced');
    assert.is(ops.memoryLayout().family, 'coalesced');
    ops.setMemoryVariant('lanes');
    assert.is(ops.memoryLayout().family, 'lanes', 'a forced variant wins over the tuning');
    ops.setMemoryVariant('coalesced');
    assert.equal(ops.memoryLayout(), { family: 'coalesced', wg: 256, rowsPerInvocation: 1, reductionParallelism: 65536 });
    assert.throws(() => ops.setMemoryVariant('wide' as ops.MemoryVariant), /unknown variant 'wide'/);
  } finally {
    setTunedVariant('memory', undefined);
    ops.setMemoryVariant(prev);
  }
});

test('coalesced layout: batchNorm2d (training / eval, with and without the fused ReLU) forward + gradients', async () => {
  // [1, 3, 5, 4]: the vec4 path, rows not a multiple of the lanes layout's 4; [1, 4, 5, 33]: scalar
  await under('coalesced', async () => {
    for (const training of [true, false])
      for (const relu of [false, true])
        for (const shape of [[2, 9, 3, 5], [1, 3, 5, 4], [1, 4, 5, 33], [2, 3, 3, 12]]) {
          const C = shape[3]!;
          const x = randArray(prod(shape), undefined, -2, 2);
          const [gamma, beta, rm, rv] = [randArray(C, undefined, 0.5, 1.5), randArray(C, undefined, -0.5, 0.5), randArray(C, undefined, -0.3, 0.3), randArray(C, undefined, 0.5, 2)];
          const ref = (t: Float64Array, g: Float64Array, b: Float64Array) => batchNormRef(t, C, g, b, rm, rv, training).y.map((v) => (relu ? Math.max(v, 0) : v));
          // the ReLU's kink: compare the forward only (its gradient checks are in norm.test.ts)
          await checkOp(
            `coalesced batchNorm2d(training ${training}, relu ${relu}) [${shape}]`,
            [{ data: x, shape, grad: !relu }, { data: gamma, shape: [C], grad: !relu }, { data: beta, shape: [C], grad: !relu }],
            ([t, g, b]) => ops.batchNorm2d(t!, g!, b!, tensor(Float32Array.from(rm), [C]), tensor(Float32Array.from(rv), [C]), { training, relu }),
            ([t, g, b]) => ref(t!, g!, b!),
            { samples: 12 },
          );
        }
  });
});

test('coalesced and lanes layouts agree on a large batch norm (many slabs, partial workgroups)', async () => {
  // rows 8·62·62 = 30,752: the layouts cut it into 512 and 1,024 slabs of different lengths
  const shape = [8, 62, 62, 12];
  const C = 12;
  const r = new Rng(5);
  const x = Float32Array.from(randArray(prod(shape), r, -3, 5));
  const dy = Float32Array.from(randArray(prod(shape), r, -1, 1));
  // per-channel parameters and running statistics that differ, so that a channel mix-up shows
  const gamma = Float32Array.from(randArray(C, r, 0.5, 2));
  const beta = Float32Array.from(randArray(C, r, -0.5, 0.5));
  const rm0 = Float32Array.from(randArray(C, r, -0.3, 0.3));
  const rv0 = Float32Array.from(randArray(C, r, 0.5, 2));
  const run = (v: ops.MemoryVariant) =>
    under(v, async () => {
      const xt = tensor(x, shape);
      xt.requiresGrad = true;
      const g = tensor(gamma, [C]);
      g.requiresGrad = true;
      const rm = tensor(rm0, [C]);
      const rv = tensor(rv0, [C]);
      const y = ops.batchNorm2d(xt, g, tensor(beta, [C]), rm, rv, { training: true, relu: true });
      const yv = await y.read();
      const loss = ops.sum(ops.mul(y, tensor(dy, shape)));
      backward(loss);
      return { y: yv, dx: await xt.grad!.read(), dg: await g.grad!.read(), rm: await rm.read(), rv: await rv.read() };
    });
  const a = await run('lanes');
  const b = await run('coalesced');
  for (const k of ['y', 'dg', 'rm', 'rv'] as const) assertClose(b[k], a[k], `batch norm ${k}`, 2e-4, 1e-4);
  // and the lanes layout against the float64 reference (forward, running statistics)
  const ref = batchNormRef(Float64Array.from(x), C, Float64Array.from(gamma), Float64Array.from(beta), Float64Array.from(rm0), Float64Array.from(rv0), true);
  assertClose(a.y, ref.y.map((v) => Math.max(0, v)), 'batch norm y (reference)', 2e-4, 1e-4);
  assertClose(a.rm, ref.runningMean, 'running mean (reference)', 1e-5, 1e-4);
  assertClose(a.rv, ref.runningVar, 'running variance (reference)', 1e-5, 1e-4);
  // dx away from the fused ReLU's kink: where bn(x) is within rounding of 0, the two layouts'
  // statistics (summed in different orders) may put an element on either side of it
  const away = [...x.keys()].filter((i) => Math.abs(ref.y[i]!) > 1e-3);
  assert.ok(away.length > 0.99 * x.length);
  assertClose(away.map((i) => b.dx[i]!), away.map((i) => a.dx[i]!), 'batch norm dx', 2e-4, 1e-4);
});

test('coalesced layout: resize (bilinear both alignments, nearest) forward + gradient', async () => {
  await under('coalesced', async () => {
    for (const [mode, align] of [['bilinear', true], ['bilinear', false], ['nearest', false]] as const)
      for (const [shape, oh, ow] of [[[1, 5, 7, 3], 9, 13], [[2, 3, 5, 4], 7, 9], [[1, 4, 4, 33], 8, 8]] as [number[], number, number][]) {
        await checkOp(
          `coalesced resize ${mode} align=${align} [${shape}] -> ${oh}x${ow}`,
          [{ data: randArray(prod(shape)), shape, grad: true }],
          ([t]) => ops.resize(t!, [oh, ow], { mode, alignCorners: align }),
          ([a]) => resizeRef(a!, shape, oh, ow, mode, align),
          { samples: 20 },
        );
      }
  });
});

test('coalesced layout: elementwise unary, binary (same shape and broadcast) and in place', async () => {
  await under('coalesced', async () => {
    for (const n of [1000, 1001]) {
      // 1000: the vec4 entries; 1001: the scalar ones (both with a partial last workgroup)
      const a = randArray(n, undefined, -2, 2);
      const b = randArray(n, undefined, -2, 2);
      const at = tensor(Float32Array.from(a), [n]);
      const bt = tensor(Float32Array.from(b), [n]);
      assertClose(await ops.relu(at).read(), a.map((v) => Math.max(v, 0)), `relu ${n}`);
      assertClose(await ops.mul(at, bt).read(), a.map((v, i) => v * b[i]!), `mul ${n}`);
      ops.binaryInPlace(ops.BinaryOp.add, at, bt);
      assertClose(await at.read(), a.map((v, i) => v + b[i]!), `add in place ${n}`);
    }
    const m = randArray(7 * 9);
    const row = randArray(9);
    const out = await ops.add(tensor(Float32Array.from(m), [7, 9]), tensor(Float32Array.from(row), [9])).read();
    assertClose(out, m.map((v, i) => v + row[i % 9]!), 'broadcast add [7,9] + [9]');
  });
});

test.run();
