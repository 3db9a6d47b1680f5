import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ops from '../../src/ops/all.js';
import { setConvVariant, type ConvVariant } from '../../src/ops/conv.js';
import { tensor } from '../../src/index.js';
import { checkOp, randArray, prod } from '../helpers.js';
import { conv2dRef, type ConvShape } from '../reference/conv.js';

function S(N: number, H: number, W: number, C: number, K: number, CO: number, stride: number, padding: number, KW = K): ConvShape {
  return { N, H, W, C, KH: K, KW, CO, stride, padding };
}

// awkward shapes: batch 1, odd sizes, stride 2 on odd sizes, kernels 1/3/7, padding 0/1/3,
// Cin 1/3/5, Cout 3/8/13, non-square kernels, and shapes that take the fast paths with
// partial tiles (Cin = Cout = 24 at 9x9: 3 row tiles of 8 pixels per image, 6 of 16 vec4 lanes)
const cases: [ConvShape, boolean][] = [
  [S(1, 5, 7, 1, 3, 3, 1, 1), true],
  [S(2, 7, 5, 3, 3, 8, 2, 1), true],
  [S(1, 9, 9, 5, 7, 13, 1, 3), true],
  [S(2, 6, 5, 4, 1, 8, 2, 0), false],
  [S(1, 8, 8, 8, 3, 12, 2, 1), true],
  [S(2, 5, 6, 3, 2, 4, 1, 0, 3), true],
  [S(1, 4, 4, 4, 3, 4, 3, 2), false],
  [S(3, 9, 9, 24, 3, 24, 1, 1), true],
  [S(2, 9, 7, 16, 3, 20, 2, 1), true],
  [S(2, 8, 8, 16, 1, 32, 2, 0), false],
];

const variants: ConvVariant[] = ['generic', 'fast'];

for (const v of variants) {
  test(`conv2d forward + dx, dw, dbias (${v})`, async () => {
    setConvVariant(v);
    try {
      for (const [s, withBias] of cases) {
        const xs = [s.N, s.H, s.W, s.C];
        const ws = [s.KH, s.KW, s.C, s.CO];
        const inputs = [
          { data: randArray(prod(xs)), shape: xs, grad: true },
          { data: randArray(prod(ws)), shape: ws, grad: true },
        ];
        if (withBias) inputs.push({ data: randArray(s.CO), shape: [s.CO], grad: true });
        const opts = { stride: s.stride, padding: s.padding };
        await checkOp(
          `conv2d ${v} x[${xs}] w[${ws}] s${s.stride} p${s.padding}${withBias ? ' +bias' : ''}`,
          inputs,
          ([x, w, b]) => ops.conv2d(x!, w!, b ?? null, opts),
          ([x, w, b]) => conv2dRef(x!, w!, b ?? null, s),
          { samples: 16 },
        );
      }
    } finally {
      setConvVariant('auto');
    }
  });
}

test('conv2d: frozen weights compute only dx', async () => {
  const s = S(2, 6, 6, 8, 3, 8, 1, 1);
  const x = randArray(prod([s.N, s.H, s.W, s.C]));
  const w = randArray(prod([3, 3, 8, 8]));
  await checkOp(
    'conv2d frozen w',
    [{ data: x, shape: [2, 6, 6, 8], grad: true }, { data: w, shape: [3, 3, 8, 8], grad: false }],
    ([a, b]) => ops.conv2d(a!, b!, null, { padding: 1 }),
    ([a, b]) => conv2dRef(a!, b!, null, s),
  );
});

test('conv2d: clear errors on bad shapes', () => {
  const x = tensor(new Float32Array(2 * 5 * 5 * 3), [2, 5, 5, 3]);
  const w = tensor(new Float32Array(3 * 3 * 4 * 8), [3, 3, 4, 8]);
  const w2 = tensor(new Float32Array(7 * 7 * 3 * 8), [7, 7, 3, 8]);
  const b = tensor(new Float32Array(5), [5]);
  const w3 = tensor(new Float32Array(3 * 3 * 3 * 8), [3, 3, 3, 8]);
  assert.throws(() => ops.conv2d(x, w), /conv2d: x has 3 input channels but w expects 4.*x \[2,5,5,3\], w \[3,3,4,8\]/);
  assert.throws(() => ops.conv2d(x, w2), /conv2d: the kernel is larger/);
  assert.throws(() => ops.conv2d(x, w3, b), /conv2d: bias must be \[8\]/);
  assert.throws(() => ops.conv2d(x, w3, null, { stride: 0 }), /stride must be a positive integer/);
  assert.throws(() => ops.conv2d(w3, w3.shape.length === 4 ? tensor(new Float32Array(3), [3]) : w3), /rank 4/);
  for (const t of [x, w, w2, b, w3]) t.dispose();
});

test.run();
