import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ops from '../../src/ops/all.js';
import { tensor } from '../../src/index.js';
import { checkOp, randArray, prod } from '../helpers.js';
import { refLinear, refMatmul, refSimilarity } from '../reference/matmul.js';
import type { MatmulVariant } from '../../src/ops/matmul.js';

const variants: MatmulVariant[] = ['generic', 'fast4', 'fast8', 'splitk', 'auto'];

// [M, K, N]: awkward shapes, then shapes that take the vec4 path with partial and full blocks
const mnk: [number, number, number][] = [
  [1, 1, 1],
  [7, 5, 3],
  [33, 17, 65],
  [1, 8, 12],
  [68, 36, 20],
  [128, 64, 64],
];
const transCombos: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

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
  test(`matmul [${v}] forward + gradients, all transpose combinations`, withVariant(v, async () => {
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

  test(`matmul [${v}] broadcast batch dimensions`, withVariant(v, async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[2, 3, 5, 4], [1, 4, 6], false, false],
      [[2, 3, 5, 4], [1, 6, 5], true, true],
      [[3, 8, 12], [12, 16], false, false],
      [[16, 12], [2, 1, 8, 16], true, true],
      [[1, 12, 8], [4, 16, 12], true, true],
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

  test(`linear [${v}] with and without bias`, withVariant(v, async () => {
    for (const [B, inF, outF] of [[5, 7, 3], [20, 16, 12], [70, 64, 36]] as const) {
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

  test(`similarity [${v}]`, withVariant(v, async () => {
    for (const [N, D, scale] of [[5, 7, 1], [37, 70, 0.5], [72, 64, 2], [1, 4, 1]] as const) {
      await checkOp(
        `similarity ${v} N=${N} D=${D}`,
        [{ data: randArray(N * D), shape: [N, D], grad: true }],
        ([z]) => ops.similarity(z!, scale),
        ([z]) => refSimilarity(z!, N, D, scale),
      );
    }
  }));
}

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
  const y = ops.matmul(a, b);
  const got = await y.read();
  const ref = refMatmul(A, [M, K], B, [K, N]).data;
  for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(got[i]! - ref[i]!) < 1e-3, `element ${i}: ${got[i]} vs ${ref[i]}`);
  for (const t of [a, b, y]) t.dispose();
});

test.run();
