/** GEMM rows: matmul 1024³ in each layout, linear, and REFINE's SupCon similarity 512 x 3072. */
import { tensor, type Tensor } from '../../src/tensor/tensor.js';
import { backward, noGrad } from '../../src/autograd/tape.js';
import { gemm, similarity } from '../../src/ops/matmul.js';
import { sum } from '../../src/ops/reduce.js';
import { mul } from '../../src/ops/elementwise.js';
import { Rng } from '../../src/util/random.js';
import type { BenchCase } from '../types.js';

function rand(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r.uniform(-1, 1);
  return a;
}

function gemmCase(name: string, M: number, K: number, N: number, transA: boolean, transB: boolean): BenchCase {
  let a: Tensor | null = null;
  let b: Tensor | null = null;
  return {
    name,
    flops: 2 * M * N * K,
    setup() {
      a = tensor(rand(M * K, 1), transA ? [K, M] : [M, K]);
      b = tensor(rand(K * N, 2), transB ? [N, K] : [K, N]);
    },
    run() {
      gemm({ a: a!, b: b!, transA, transB }).dispose();
    },
    teardown() {
      a?.dispose();
      b?.dispose();
    },
  };
}

const SN = 512;
const SD = 3072;
let z: Tensor | null = null;
let w: Tensor | null = null;

export const cases: BenchCase[] = [
  { ...gemmCase('matmul 1024³ NN', 1024, 1024, 1024, false, false), peerKey: 'matmul:1024,1024,1024' },
  gemmCase('matmul 1024³ NT (a·bᵀ)', 1024, 1024, 1024, false, true),
  gemmCase('matmul 1024³ TN (aᵀ·b)', 1024, 1024, 1024, true, false),
  gemmCase('linear 256x3072 -> 512 (x·wᵀ)', 256, 3072, 512, false, true),
  {
    name: 'similarity fwd 512x3072 (2·N²·D)',
    flops: 2 * SN * SN * SD,
    setup() {
      z = tensor(rand(SN * SD, 3), [SN, SD]);
    },
    run() {
      noGrad(() => similarity(z!, 10)).dispose();
    },
    teardown() {
      z?.dispose();
    },
  },
  {
    name: 'similarity fwd+bwd 512x3072',
    flops: 2 * SN * SN * SD * 2,
    setup() {
      z = tensor(rand(SN * SD, 3), [SN, SD]);
      z.requiresGrad = true;
      w = tensor(rand(SN * SN, 4), [SN, SN]);
    },
    run() {
      const s = similarity(z!, 10);
      const p = mul(s, w!);
      const l = sum(p);
      backward(l);
      s.dispose();
      p.dispose();
      l.dispose();
      z!.grad?.dispose();
      z!.grad = null;
    },
    teardown() {
      z?.dispose();
      w?.dispose();
    },
  },
];
