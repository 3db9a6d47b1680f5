import { test } from 'uvu';
import * as ops from '../../src/ops/all.js';
import { checkOp, prod, randArray } from '../helpers.js';

/** float64 reference: reduce `x` of `shape` over `axes` with f (sum or max), optional mean */
/** For each input element, the index of the output element it reduces into. */
function outputIndex(shape: number[], axes: number[]): Int32Array {
  const keep = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const map = new Int32Array(prod(shape));
  for (let i = 0; i < map.length; i++) {
    let rem = i;
    const c = new Array<number>(shape.length);
    for (let d = shape.length - 1; d >= 0; d--) {
      c[d] = rem % shape[d]!;
      rem = Math.floor(rem / shape[d]!);
    }
    let o = 0;
    for (const k of keep) o = o * shape[k]! + c[k]!;
    map[i] = o;
  }
  return map;
}

function reduceRef(x: Float64Array, shape: number[], axes: number[], kind: 'sum' | 'mean' | 'max'): Float64Array {
  const at = outputIndex(shape, axes);
  const out = new Float64Array(prod(shape) / axes.reduce((p, a) => p * shape[a]!, 1)).fill(kind === 'max' ? -Infinity : 0);
  const count = axes.reduce((p, a) => p * shape[a]!, 1);
  for (let i = 0; i < x.length; i++) out[at[i]!] = kind === 'max' ? Math.max(out[at[i]!]!, x[i]!) : out[at[i]!]! + x[i]!;
  if (kind === 'mean') for (let i = 0; i < out.length; i++) out[i]! /= count;
  return out;
}

/** d sum(w ⊙ reduce(x)) / dx: w of its output (÷ count for mean; for max only at the maximum, whose values here are distinct). */
function reduceGradRef(x: Float64Array, w: Float64Array, shape: number[], axes: number[], kind: 'sum' | 'mean' | 'max'): Float64Array {
  const at = outputIndex(shape, axes);
  const count = axes.reduce((p, a) => p * shape[a]!, 1);
  const m = kind === 'max' ? reduceRef(x, shape, axes, 'max') : null;
  return Float64Array.from(x, (v, i) => (m ? (v === m[at[i]!] ? w[at[i]!]! : 0) : w[at[i]!]! / (kind === 'mean' ? count : 1)));
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
      // every element's gradient against the closed form (a max's nonzero ones are a few among
      // thousands), with an atol below a mean's gradients (w / count: ~2e-4 on the long rows)
      await checkOp(`${kind} [${shape}] axes [${axes}]`, [{ data: x, shape, grad: true }], ([t]) => f(t!, axes), ([a]) => reduceRef(a!, shape, axes, kind), {
        atol: kind === 'mean' ? 1e-6 : 1e-5,
        fwdAtol: 2e-4,
        gradRef: ([a], w) => [reduceGradRef(a!, w, shape, axes, kind)],
      });
    }
  });
}

test('keepDims keeps reduced axes as size 1', async () => {
  const x = randArray(24);
  await checkOp('sum keepDims', [{ data: x, shape: [2, 3, 4], grad: true }], ([t]) => ops.reshape(ops.sum(t!, [1], true), [2, 4]), ([a]) => reduceRef(a!, [2, 3, 4], [1], 'sum'));
});

test.run();
