import { test } from 'uvu';
import * as ops from '../../src/ops/all.js';
import { checkOp, prod, randArray } from '../helpers.js';

/** float64 reference: reduce `x` of `shape` over `axes` with f (sum or max), optional mean */
function reduceRef(x: Float64Array, shape: number[], axes: number[], kind: 'sum' | 'mean' | 'max'): Float64Array {
  const keep = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outShape = keep.map((i) => shape[i]!);
  const out = new Float64Array(prod(outShape)).fill(kind === 'max' ? -Infinity : 0);
  const count = axes.reduce((p, a) => p * shape[a]!, 1);
  for (let i = 0; i < x.length; i++) {
    let rem = i;
    const c = new Array<number>(shape.length);
    for (let d = shape.length - 1; d >= 0; d--) {
      c[d] = rem % shape[d]!;
      rem = Math.floor(rem / shape[d]!);
    }
    let o = 0;
    for (const k of keep) o = o * shape[k]! + c[k]!;
    out[o] = kind === 'max' ? Math.max(out[o]!, x[i]!) : out[o]! + x[i]!;
  }
  if (kind === 'mean') for (let i = 0; i < out.length; i++) out[i]! /= count;
  return out;
}

const cases: [number[], number[]][] = [
  [[7], [0]],
  [[3, 5], [1]],
  [[3, 5], [0]],
  [[2, 3, 4], [0, 2]],
  [[4, 1, 5, 3], [1, 3]],
  [[2, 3, 4], [0, 1, 2]],
  [[3, 3000], [1]], // long rows: the split-K path with a second pass
  [[5000, 3], [0]],
];

for (const kind of ['sum', 'mean', 'max'] as const) {
  test(`${kind} over axes: forward + gradient`, async () => {
    for (const [shape, axes] of cases) {
      let x = randArray(prod(shape));
      // max: distinct values at least 0.0025 apart (random ranks on a grid), so that no central
      // difference (eps 1e-3) lets the runner-up overtake the maximum: 3000 uniform values are
      // ~7e-4 apart on average, which made this test fail at random
      if (kind === 'max') {
        const order = [...x.keys()].sort((i, j) => x[i]! - x[j]!);
        const ranked = new Float64Array(x.length);
        order.forEach((i, r) => (ranked[i] = (r - x.length / 2) * 0.0025));
        x = ranked;
      }
      const f = kind === 'sum' ? ops.sum : kind === 'mean' ? ops.mean : ops.max;
      await checkOp(`${kind} [${shape}] axes [${axes}]`, [{ data: x, shape, grad: true }], ([t]) => f(t!, axes), ([a]) => reduceRef(a!, shape, axes, kind), {
        atol: 3e-3,
        fwdAtol: 2e-4,
      });
    }
  });
}

test('keepDims keeps reduced axes as size 1', async () => {
  const x = randArray(24);
  await checkOp('sum keepDims', [{ data: x, shape: [2, 3, 4], grad: true }], ([t]) => ops.reshape(ops.sum(t!, [1], true), [2, 4]), ([a]) => reduceRef(a!, [2, 3, 4], [1], 'sum'));
});

test.run();
