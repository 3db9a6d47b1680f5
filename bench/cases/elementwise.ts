/** Memory-bound reference rows: elementwise add and a column reduction. */
import { empty, type Tensor } from '../../src/tensor/tensor.js';
import { binaryRaw, BinaryOp } from '../../src/ops/elementwise.js';
import { reduceRaw } from '../../src/ops/reduce.js';
import type { BenchCase } from '../types.js';

const N = 1 << 22;
let a: Tensor | null = null;
let b: Tensor | null = null;
const tmp: Tensor[] = [];

export const cases: BenchCase[] = [
  {
    name: 'elementwise add 4M',
    bytes: N * 12,
    setup() {
      a = empty([N]);
      b = empty([N]);
    },
    run() {
      binaryRaw(BinaryOp.add, a!, b!).dispose();
    },
    teardown() {
      a?.dispose();
      b?.dispose();
    },
  },
  {
    name: 'sum over rows [65536, 64]',
    bytes: N * 4,
    setup() {
      a = empty([N / 64, 64]);
    },
    run() {
      tmp.push(reduceRaw(a!, [0], 'sum', false, false));
      while (tmp.length) tmp.pop()!.dispose();
    },
    teardown() {
      a?.dispose();
    },
  },
];
