import { test } from 'uvu';
import * as ops from '../../src/ops/all.js';
import { checkOp, randArray, prod } from '../helpers.js';

// float64 reference of broadcasting binary ops
function bcast(a: Float64Array, as: number[], b: Float64Array, bs: number[], f: (x: number, y: number) => number): Float64Array {
  const r = Math.max(as.length, bs.length);
  const A = [...Array(r - as.length).fill(1), ...as];
  const B = [...Array(r - bs.length).fill(1), ...bs];
  const O = A.map((d, i) => Math.max(d, B[i]!));
  const out = new Float64Array(prod(O));
  for (let i = 0; i < out.length; i++) {
    let rem = i;
    let ia = 0, ib = 0, sa = 1, sb = 1;
    for (let d = r - 1; d >= 0; d--) {
      const c = rem % O[d]!;
      rem = Math.floor(rem / O[d]!);
      ia += (A[d] === 1 ? 0 : c) * sa;
      ib += (B[d] === 1 ? 0 : c) * sb;
      sa *= A[d]!;
      sb *= B[d]!;
    }
    out[i] = f(a[ia]!, b[ib]!);
  }
  return out;
}

const binCases: [string, (a: any, b: any) => any, (x: number, y: number) => number][] = [
  ['add', ops.add, (x, y) => x + y],
  ['sub', ops.sub, (x, y) => x - y],
  ['mul', ops.mul, (x, y) => x * y],
  ['div', ops.div, (x, y) => x / y],
  ['maximum', ops.maximum, (x, y) => Math.max(x, y)],
];
const shapes: [number[], number[]][] = [
  [[7], [7]],
  [[4, 6], [4, 6]], // flat vec4 path
  [[3, 5], [5]],
  [[2, 1, 5], [3, 1]],
  [[1], [4, 3]],
  [[2, 3, 4, 5], [1, 3, 1, 5]],
];

for (const [name, g, f] of binCases) {
  test(`${name} forward + gradient with broadcasting`, async () => {
    for (const [as, bs] of shapes) {
      let a = randArray(prod(as));
      let b = randArray(prod(bs));
      if (name === 'div') b = b.map((v) => (v < 0 ? v - 0.5 : v + 0.5));
      if (name === 'maximum') {
        // max() has a kink at a == b; a central difference (eps 1e-3) straddling it is wrong, so keep
        // every pair at least 0.004 apart: a on the odd multiples of 0.005, b on the even ones.
        a = a.map((v) => Math.round(v / 0.01) * 0.01 + 0.005);
        b = b.map((v) => Math.round(v / 0.01) * 0.01);
      }
      await checkOp(`${name} [${as}] [${bs}]`, [{ data: a, shape: as, grad: true }, { data: b, shape: bs, grad: true }], ([x, y]) => g(x, y), ([x, y]) => bcast(x!, as, y!, bs, f));
    }
  });
}

const unCases: [string, (x: any) => any, (x: number) => number, number, number][] = [
  ['neg', ops.neg, (x) => -x, -1, 1],
  ['relu', ops.relu, (x) => Math.max(0, x), -1, 1],
  ['sigmoid', ops.sigmoid, (x) => 1 / (1 + Math.exp(-x)), -3, 3],
  ['tanh', ops.tanh, Math.tanh, -2, 2],
  ['exp', ops.exp, Math.exp, -2, 2],
  ['log', ops.log, Math.log, 0.2, 3],
  ['sqrt', ops.sqrt, Math.sqrt, 0.2, 3],
  ['square', ops.square, (x) => x * x, -2, 2],
  ['clamp', (x) => ops.clamp(x, -0.5, 0.3), (x) => Math.min(0.3, Math.max(-0.5, x)), -1, 1],
  ['affine', (x) => ops.affine(x, 2.5, -1), (x) => 2.5 * x - 1, -1, 1],
];

for (const [name, g, f, lo, hi] of unCases) {
  test(`${name} forward + gradient`, async () => {
    for (const shape of [[1], [13], [3, 7, 5], [2, 6]]) {
      // keep values away from kinks so that finite differences are meaningful
      const x = randArray(prod(shape), undefined, lo, hi).map((v) => (Math.abs(v) < 0.02 || Math.abs(v - 0.3) < 0.02 || Math.abs(v + 0.5) < 0.02 ? v + 0.05 : v));
      await checkOp(`${name} [${shape}]`, [{ data: x, shape, grad: true }], ([t]) => g(t), ([a]) => a!.map(f));
    }
  });
}

test.run();
