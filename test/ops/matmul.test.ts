import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ops from '../../src/ops/all.js';
import { rt, tensor, type Tensor } from '../../src/index.js';
import { checkOp, randArray, prod } from '../helpers.js';
import { refLinear, refMatmul, refSimilarity } from '../reference/matmul.js';
import type { MatmulVariant } from '../../src/ops/matmul.js';
import { setTunedVariant } from '../../src/ops/tuning.js';

const variants: MatmulVariant[] = ['generic', 'fast4', 'fast8', 'splitk', 'subgroup', 'tiled', 'auto'];

// [M, K, N]: awkward shapes, then shapes that take the vec4 path with partial and full blocks
const mnk: [number, number, number][] = [
  [1, 1, 1],
  [7, 5, 3],
  [33, 17, 65],
  [1, 8, 12],
  [68, 36, 20],
  [128, 64, 64],
  // subgroup kernel (R x 32 blocks, R = 8/16/32): partial row and column blocks, K = 4/12/68
  [4, 4, 32],
  [12, 12, 64],
  [37, 12, 32],
  [52, 68, 96],
  [36, 4, 40],
];
const transCombos: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

/** The subgroup variant's tests are registered as skipped where subgroups are not 8 lanes wide (counted as skipped, not passed). */
const testFor = (v: MatmulVariant) => (v === 'subgroup' && rt().subgroupSize !== 8 ? test.skip : test);

function withVariant(v: MatmulVariant, fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    const prev = ops.setMatmulVariant(v);
    try {
      await fn();
    } finally {
      ops.setMatmulVariant(prev);
    }
  };
}

for (const v of variants) {
  testFor(v)(`matmul [${v}] forward + gradients, all transpose combinations`, withVariant(v, async () => {
    for (const [M, K, N] of mnk) {
      for (const [tA, tB] of transCombos) {
        const as = tA ? [K, M] : [M, K];
        const bs = tB ? [N, K] : [K, N];
        const big = M * N * K > 50000;
        await checkOp(
          `matmul ${v} ${M}x${K}x${N} tA=${tA} tB=${tB}`,
          [{ data: randArray(prod(as)), shape: as, grad: true }, { data: randArray(prod(bs)), shape: bs, grad: true }],
          ([a, b]) => ops.matmul(a!, b!, { transA: tA, transB: tB }),
          ([a, b]) => refMatmul(a!, as, b!, bs, tA, tB).data,
          { samples: big ? 12 : 24 },
        );
      }
    }
  }));

  testFor(v)(`matmul [${v}] broadcast batch dimensions`, withVariant(v, async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[2, 3, 5, 4], [1, 4, 6], false, false],
      [[2, 3, 5, 4], [1, 6, 5], true, true],
      [[3, 8, 12], [12, 16], false, false],
      [[16, 12], [2, 1, 8, 16], true, true],
      [[1, 12, 8], [4, 16, 12], true, true],
      [[2, 1, 36, 12], [3, 12, 64], false, false],
      [[2, 3, 12, 40], [3, 36, 12], true, true],
    ];
    for (const [as, bs, tA, tB] of cases) {
      await checkOp(
        `matmul ${v} [${as}]${tA ? 'ᵀ' : ''} x [${bs}]${tB ? 'ᵀ' : ''}`,
        [{ data: randArray(prod(as)), shape: as, grad: true }, { data: randArray(prod(bs)), shape: bs, grad: true }],
        ([a, b]) => ops.matmul(a!, b!, { transA: tA, transB: tB }),
        ([a, b]) => refMatmul(a!, as, b!, bs, tA, tB).data,
      );
    }
  }));

  testFor(v)(`linear [${v}] with and without bias`, withVariant(v, async () => {
    for (const [B, inF, outF] of [[5, 7, 3], [20, 16, 12], [70, 64, 36], [9, 12, 64]] as const) {
      for (const withBias of [true, false]) {
        const inputs = [
          { data: randArray(B * inF), shape: [B, inF], grad: true },
          { data: randArray(outF * inF), shape: [outF, inF], grad: true },
          ...(withBias ? [{ data: randArray(outF), shape: [outF], grad: true }] : []),
        ];
        await checkOp(
          `linear ${v} ${B}x${inF}->${outF} bias=${withBias}`,
          inputs,
          ([x, w, b]) => ops.linear(x!, w!, withBias ? b! : null),
          ([x, w, b]) => refLinear(x!, w!, withBias ? b! : null, B, inF, outF),
        );
      }
    }
  }));

  testFor(v)(`similarity [${v}]`, withVariant(v, async () => {
    for (const [N, D, scale] of [[5, 7, 1], [37, 70, 0.5], [72, 64, 2], [1, 4, 1], [100, 12, 0.5], [20, 1024, 0.25]] as const) {
      await checkOp(
        `similarity ${v} N=${N} D=${D}`,
        [{ data: randArray(N * D), shape: [N, D], grad: true }],
        ([z]) => ops.similarity(z!, scale),
        ([z]) => refSimilarity(z!, N, D, scale),
      );
    }
  }));
}

// needs subgroups of 8 and timestamp queries (skipped, and counted so, elsewhere)
(rt().subgroupSize === 8 && rt().features.has('timestamp-query') ? test : test.skip)('matmul: auto and subgroup dispatch the subgroup kernel where it qualifies, and fall back elsewhere', async () => {
  const kernelsOf = async (v: MatmulVariant, fn: () => void): Promise<string[]> => {
    const prev = ops.setMatmulVariant(v);
    rt().startProfile();
    try {
      fn();
    } finally {
      ops.setMatmulVariant(prev);
    }
    return [...(await rt().stopProfile()).keys()].sort();
  };
  const t = (r: number, c: number) => tensor(Float32Array.from(randArray(r * c)), [r, c]);
  const a = t(40, 12);
  const bT = t(64, 12);
  const b = t(12, 64);
  const odd = t(40, 5);
  const c16 = t(12, 16);
  const bias = tensor(Float32Array.from(randArray(64)), [64]);
  const run = (fn: () => Tensor) => () => fn().dispose();
  for (const v of ['auto', 'subgroup'] as const) {
    assert.equal(await kernelsOf(v, run(() => ops.matmul(a, b))), ['matmul_sg.sg_a0_r32'], `${v} NN`);
    assert.equal(await kernelsOf(v, run(() => ops.linear(a, bT, bias))), ['matmul_sg.sg_a0_r32'], `${v} linear`);
    assert.equal(await kernelsOf(v, run(() => ops.matmul(c16, b, { transA: true }))), ['matmul_sg.sg_a1_r16'], `${v} TN`);
    assert.equal(await kernelsOf(v, run(() => ops.similarity(a, 2))), ['matmul_sg.sg_a0_r32'], `${v} similarity`);
    assert.equal(await kernelsOf(v, run(() => ops.matmul(odd, odd, { transB: true }))), ['matmul.generic'], `${v} K = 5 falls back`);
  }
  assert.equal(await kernelsOf('fast8', run(() => ops.matmul(a, b))), ['matmul.main'], 'fast8 keeps its kernel');
  assert.equal(await kernelsOf('tiled', run(() => ops.matmul(odd, odd, { transB: true }))), ['matmul_tiled'], 'tiled takes any shape');
  // 'auto' follows the autotuned family
  for (const [fam, want] of [['tiled', 'matmul_tiled'], ['fast', 'matmul.main'], ['subgroup', 'matmul_sg.sg_a0_r32']] as const) {
    setTunedVariant('matmul', fam);
    try {
      assert.equal(await kernelsOf('auto', run(() => ops.matmul(a, b))), [want], `auto after tuning to ${fam}`);
    } finally {
      setTunedVariant('matmul', undefined);
    }
  }
  for (const x of [a, bT, b, odd, c16, bias]) x.dispose();
});

test('matmul: K = 0 gives zeros (plus bias), shape errors are reported', async () => {
  const a = tensor(new Float32Array(0), [3, 0]);
  const b = tensor(new Float32Array(0), [0, 2]);
  const y = ops.matmul(a, b);
  assert.equal(Array.from(await y.read()), [0, 0, 0, 0, 0, 0]);
  const x = tensor(new Float32Array(0), [2, 0]);
  const w = tensor(new Float32Array(0), [3, 0]);
  const bias = tensor([1, 2, 3], [3]);
  const l = ops.linear(x, w, bias);
  assert.equal(Array.from(await l.read()), [1, 2, 3, 1, 2, 3]);
  assert.throws(() => ops.matmul(tensor([1, 2, 3, 4, 5, 6], [2, 3]), tensor([1, 2, 3, 4], [2, 2])), /inner dimensions/);
  for (const t of [a, b, y, x, w, bias, l]) t.dispose();
});

test('matmul: a long K with few outputs takes split-K and matches the reference', async () => {
  const M = 3, K = 4096, N = 4;
  const A = randArray(M * K);
  const B = randArray(K * N);
  const a = tensor(Float32Array.from(A), [M, K]);
  const b = tensor(Float32Array.from(B), [K, N]);
  const profiled = rt().features.has('timestamp-query');
  if (profiled) rt().startProfile();
  const y = ops.matmul(a, b);
  // split-K writes partial sums that a second pass ('finish') adds up
  if (profiled) assert.ok((await rt().stopProfile()).has('matmul.finish'), 'the split-K reduction pass ran');
  const got = await y.read();
  const ref = refMatmul(A, [M, K], B, [K, N]).data;
  for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(got[i]! - ref[i]!) < 1e-3, `element ${i}: ${got[i]} vs ${ref[i]}`);
  for (const t of [a, b, y]) t.dispose();
});

test.run();
