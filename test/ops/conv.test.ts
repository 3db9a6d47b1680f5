import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ops from '../../src/ops/all.js';
import { setConvVariant, conv2dRaw, type ConvVariant } from '../../src/ops/conv.js';
import { tensor, rt, type Tensor } from '../../src/index.js';
import { checkOp, randArray, prod } from '../helpers.js';
import { Rng } from '../../src/util/random.js';
import { conv2dGradRef, conv2dRef, convOut, type ConvShape } from '../reference/conv.js';

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
  [S(2, 7, 6, 16, 1, 1, 1, 0), true], // Cout 1 (the UNet's output conv): a GEMM except under 'generic'
  [S(1, 5, 3, 6, 1, 3, 1, 0), false], // 1x1, Cin 6 -> Cout 3 without bias: the same GEMM route
  [S(1, 5, 5, 8, 3, 3, 2, 1), true], // Cout 3, stride 2
];

// shapes that qualify for the subgroup kernels (forward: Cin % 4, Cout % 16; dx: Cin % 16,
// Cout % 4; dw: Cin % 4, Cout % 32 or Cout % 16 with Cin % 8), with partial row blocks (pixel
// counts not a multiple of the 32 or 64 rows of a workgroup), batch 1, odd sizes, stride 2,
// padding 0/1, kernels 1/3, 16-channel tiles (fwd/dx: main_wb; dw: two row sets) and split-K wgrad.
const sgCases: [ConvShape, boolean][] = [
  [S(1, 7, 9, 4, 3, 32, 1, 1), true], // fwd/dw ns1, dw rc 4; dx falls back (Cin 4)
  [S(2, 9, 7, 8, 3, 64, 2, 1), false], // stride 2 on odd sizes, 2 column tiles
  [S(1, 5, 5, 32, 1, 32, 1, 0), true], // kernel 1, dx ns1
  [S(2, 7, 7, 32, 3, 16, 2, 1), false], // Cout 16: fwd wb, dw ns2; dx ns1 with Cout 16
  [S(1, 11, 13, 16, 3, 16, 1, 1), true], // everything 16 wide (fwd/dx wb, dw ns2), M = 143
  [S(3, 6, 5, 16, 3, 32, 2, 0), false], // stride 2, padding 0, dx wb
  [S(1, 9, 9, 8, 1, 16, 2, 0), false], // 1x1 stride 2, dw ns2 rc 4
  [S(2, 12, 12, 32, 3, 64, 1, 1), true], // split-K wgrad (4 slices), 2 Cin tiles for dx
  [S(1, 3, 3, 48, 3, 48, 1, 1), false], // 48 = 3 tiles of 16, M = 9 < 32
  [S(2, 9, 9, 1, 3, 16, 1, 1), true], // grey stem: Cin 1 zero-padded to 4 (conv2d only)
  [S(1, 8, 7, 3, 3, 32, 2, 1), false], // RGB stem with stride 2: Cin 3 padded to 4
  [S(2, 7, 9, 8, 3, 16, 2, 1), true], // dx main_wb1 (Cin 8: two 4-column tiles), stride 2
  [S(1, 6, 6, 4, 1, 32, 1, 0), false], // dx main_wb1, 1x1 kernel
  [S(1, 6, 7, 8, 3, 80, 1, 1), false], // Cout 80: two 64-column blocks of the tiled kernels
  // 16-column stride-1 kernels (fwd and the flipped dx on main_wb): padding 0 and 2, 5×3 taps
  [S(2, 6, 9, 16, 3, 16, 1, 0), true],
  [S(1, 5, 13, 8, 5, 16, 1, 2, 3), true],
  [S(3, 4, 4, 16, 3, 16, 1, 1), false],
];

const variants: ConvVariant[] = ['generic', 'fast', 'subgroup', 'tiled'];
const sgSkip = (): boolean => {
  if (rt().subgroupSize === 8) return false;
  console.log(`  (skipping the subgroup conv2d checks: they need a subgroup of 8 lanes, this device reports ${rt().subgroupSize})`);
  return true;
};

/** conv2d forward and the gradients of x, w (and the bias) against the float64 reference. */
async function checkConv(label: string, s: ConvShape, withBias: boolean): Promise<void> {
  const xs = [s.N, s.H, s.W, s.C];
  const ws = [s.KH, s.KW, s.C, s.CO];
  const inputs = [
    { data: randArray(prod(xs)), shape: xs, grad: true },
    { data: randArray(prod(ws)), shape: ws, grad: true },
  ];
  if (withBias) inputs.push({ data: randArray(s.CO), shape: [s.CO], grad: true });
  const opts = { stride: s.stride, padding: s.padding };
  await checkOp(
    `conv2d ${label} x[${xs}] w[${ws}] s${s.stride} p${s.padding}${withBias ? ' +bias' : ''}`,
    inputs,
    ([x, w, b]) => ops.conv2d(x!, w!, b ?? null, opts),
    ([x, w, b]) => conv2dRef(x!, w!, b ?? null, s),
    // every element of dx, dw and dbias (padding borders, partial tiles), a few by finite differences
    {
      samples: 16,
      atol: 1e-4,
      rtol: 1e-3,
      gradRef: ([x, w], gy) => {
        const g = conv2dGradRef(x!, w!, gy, s);
        return withBias ? [g.dx, g.dw, g.dbias] : [g.dx, g.dw];
      },
    },
  );
}

for (const v of variants) {
  // the subgroup kernels need 8-lane subgroups: elsewhere their test is registered as skipped
  (v === 'subgroup' && rt().subgroupSize !== 8 ? test.skip : test)(`conv2d forward + dx, dw, dbias (${v})`, async () => {
    setConvVariant(v);
    try {
      for (const [s, withBias] of v === 'subgroup' || v === 'tiled' ? [...cases, ...sgCases] : cases) await checkConv(v, s, withBias);
    } finally {
      setConvVariant('auto');
    }
  });
}

// under 'auto' every 1×1 stride-1 conv without an epilogue runs as a GEMM over the pixels (the
// forced variants above keep the conv kernels): the ResNet-50 bottleneck shapes, Cout 16-64,
// with and without bias, a pixel count that is no multiple of the GEMM tiles
test('conv2d 1x1 stride 1 on the GEMM route (auto): forward + dx, dw, dbias', async () => {
  setConvVariant('auto');
  for (const [s, withBias] of [
    [S(2, 5, 7, 16, 1, 64, 1, 0), true],
    [S(1, 4, 3, 64, 1, 16, 1, 0), false],
    [S(3, 3, 3, 6, 1, 8, 1, 0), true],
  ] as [ConvShape, boolean][]) await checkConv('auto 1x1', s, withBias);
});

// the fused epilogue: relu(conv + bias + residual), forward and the gradients of all four inputs,
// on the subgroup kernels (32- and 16-column tiles: the epilogue is in the kernel) and the others
// (separate passes), with and without each part
test('conv2d with residual and ReLU epilogue: forward + gradients', async () => {
  for (const v of ['auto', 'tiled'] as ConvVariant[]) {
    setConvVariant(v);
    try {
      await epilogueChecks(v);
    } finally {
      setConvVariant('auto');
    }
  }
  assert.throws(() => ops.conv2d(tensor(new Float32Array(2 * 4 * 4 * 4), [2, 4, 4, 4]), tensor(new Float32Array(9 * 16), [3, 3, 4, 4]), null, { padding: 1, residual: tensor(new Float32Array(16), [1, 4, 4, 1]) }), /residual must have the output's shape \[2,4,4,4\]/);
});

async function epilogueChecks(v: ConvVariant): Promise<void> {
  const shapes: [ConvShape, boolean, boolean][] = [
    [S(1, 7, 9, 4, 3, 32, 1, 1), true, true],
    [S(1, 11, 13, 16, 3, 16, 1, 1), true, true],
    [S(2, 6, 5, 16, 3, 16, 2, 1), false, true],
    [S(2, 7, 5, 3, 3, 8, 2, 1), true, true],
    [S(2, 9, 7, 16, 3, 20, 2, 1), true, false],
    [S(1, 5, 5, 8, 1, 32, 1, 0), false, true],
  ];
  for (const [s, withRes, withRelu] of shapes) {
    const [OH, OW] = convOut(s);
    const xs = [s.N, s.H, s.W, s.C];
    const ws = [s.KH, s.KW, s.C, s.CO];
    const os = [s.N, OH, OW, s.CO];
    const ref = (x: Float64Array, w: Float64Array, b: Float64Array, r: Float64Array | null) => {
      const y = conv2dRef(x, w, b, s);
      return y.map((v, i) => {
        const t = v + (r ? r[i]! : 0);
        return withRelu ? Math.max(t, 0) : t;
      });
    };
    // the first seed whose pre-activations keep 1e-3 from the ReLU's kink (central differences
    // with eps 1e-5 on the float64 reference then never straddle it)
    for (let seed = 1; ; seed++) {
      const r = new Rng(seed);
      const [x, w, b, res] = [randArray(prod(xs), r), randArray(prod(ws), r), randArray(s.CO, r), randArray(prod(os), r)];
      const pre = conv2dRef(x, w, b, s).map((v, i) => v + (withRes ? res[i]! : 0));
      if (withRelu && pre.some((v) => Math.abs(v) < 1e-3)) continue;
      const inputs = [
        { data: x, shape: xs, grad: true },
        { data: w, shape: ws, grad: true },
        { data: b, shape: [s.CO], grad: true },
        ...(withRes ? [{ data: res, shape: os, grad: true }] : []),
      ];
      await checkOp(
        `conv2d ${v} x[${xs}] w[${ws}] s${s.stride}${withRes ? ' +residual' : ''}${withRelu ? ' relu' : ''}`,
        inputs,
        ([tx, tw, tb, tr]) => ops.conv2d(tx!, tw!, tb!, { stride: s.stride, padding: s.padding, residual: tr ?? null, relu: withRelu }),
        ([tx, tw, tb, tr]) => ref(tx!, tw!, tb!, tr ?? null),
        { samples: 16, eps: 1e-5 },
      );
      break;
    }
  }
}

// every element of the raw forward, dx and dw passes of the subgroup and tiled kernels against the
// generic kernels (the checks above go through ops.conv2d and its autograd)
test('conv2d subgroup and tiled variants match generic on every element', async () => {
  const run = async (v: ConvVariant, s: ConvShape, xs: Float32Array, ws: Float32Array, dys: Float32Array, bs: Float32Array) => {
    setConvVariant(v);
    const ts: Tensor[] = [];
    const mk = (a: Float32Array, shape: number[]) => {
      const t = tensor(a, shape);
      ts.push(t);
      return t;
    };
    const [OH, OW] = convOut(s);
    const x = mk(xs, [s.N, s.H, s.W, s.C]);
    const w = mk(ws, [s.KH, s.KW, s.C, s.CO]);
    const dy = mk(dys, [s.N, OH, OW, s.CO]);
    const b = mk(bs, [s.CO]);
    const opts = { stride: s.stride, padding: s.padding };
    const outs = [conv2dRaw.forward(x, w, b, opts), conv2dRaw.dx(dy, x, w, opts), conv2dRaw.dw(dy, x, w, opts)];
    const r = await Promise.all(outs.map((o) => o.read()));
    for (const t of [...ts, ...outs]) t.dispose();
    return r;
  };
  try {
    for (const [s] of sgCases) {
      const [OH, OW] = convOut(s);
      const f32 = (n: number) => Float32Array.from(randArray(n));
      const xs = f32(s.N * s.H * s.W * s.C);
      const ws = f32(s.KH * s.KW * s.C * s.CO);
      const dys = f32(s.N * OH * OW * s.CO);
      const bs = f32(s.CO);
      const want = await run('generic', s, xs, ws, dys, bs);
      for (const v of ['subgroup', 'tiled'] as ConvVariant[]) {
        if (v === 'subgroup' && sgSkip()) continue;
        const got = await run(v, s, xs, ws, dys, bs);
        ['forward', 'dx', 'dw'].forEach((pass, i) => {
          const a = got[i]!;
          const e = want[i]!;
          assert.is(a.length, e.length);
          for (let k = 0; k < a.length; k++) {
            if (!(Math.abs(a[k]! - e[k]!) <= 1e-4 + 1e-4 * Math.abs(e[k]!))) {
              assert.unreachable(`${v} ${pass} x[${[s.N, s.H, s.W, s.C]}] w[${[s.KH, s.KW, s.C, s.CO]}] s${s.stride} p${s.padding}: element ${k} = ${a[k]}, generic ${e[k]}`);
            }
          }
        });
      }
    }
  } finally {
    setConvVariant('auto');
  }
});

test('conv2d: frozen weights compute only dx', async () => {
  for (const s of [S(2, 6, 6, 8, 3, 8, 1, 1), S(3, 7, 5, 6, 3, 5, 2, 1), S(1, 9, 7, 16, 3, 16, 1, 1)]) {
    const xs = [s.N, s.H, s.W, s.C];
    const ws = [s.KH, s.KW, s.C, s.CO];
    await checkOp(
      `conv2d frozen w x[${xs}] w[${ws}] s${s.stride}`,
      [{ data: randArray(prod(xs)), shape: xs, grad: true }, { data: randArray(prod(ws)), shape: ws, grad: false }],
      ([a, b]) => ops.conv2d(a!, b!, null, { stride: s.stride, padding: s.padding }),
      ([a, b]) => conv2dRef(a!, b!, null, s),
      { atol: 1e-4, rtol: 1e-3, gradRef: ([a, b], gy) => [conv2dGradRef(a!, b!, gy, s).dx, null] },
    );
  }
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
  assert.throws(() => setConvVariant('simd' as ConvVariant), /unknown variant 'simd'/);
  for (const t of [x, w, w2, b, w3]) t.dispose();
});

test.run();
