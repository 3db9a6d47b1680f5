/**
 * conv2d forward, dx and dw on the CIFAR ResNet-18 shapes at batch 64 (NHWC, HWIO weights):
 * the 3x3 stride-1 convs of each stage, the 3x3 stride-2 convs and the 1x1 stride-2 shortcuts;
 * then the narrow 16- and 32-channel convs of the quick presets (ResNet x0.25 / x0.5 stems and
 * first stages at 32², UNet c = 16-32 at 28²).
 * FLOP = 2*N*OH*OW*Cout*KH*KW*Cin for every pass. Inputs are filled with small random values.
 */
import { tensor, type Tensor } from '../../src/tensor/tensor.js';
import { conv2dRaw } from '../../src/ops/conv.js';
import type { BenchCase } from '../types.js';

interface Shape { C: number; H: number; CO: number; K: number; S: number; P: number }
const N = 64;
const shapes: Shape[] = [
  { C: 64, H: 32, CO: 64, K: 3, S: 1, P: 1 },
  { C: 128, H: 16, CO: 128, K: 3, S: 1, P: 1 },
  { C: 256, H: 8, CO: 256, K: 3, S: 1, P: 1 },
  { C: 512, H: 4, CO: 512, K: 3, S: 1, P: 1 },
  { C: 64, H: 32, CO: 128, K: 3, S: 2, P: 1 },
  { C: 128, H: 16, CO: 256, K: 3, S: 2, P: 1 },
  { C: 256, H: 8, CO: 512, K: 3, S: 2, P: 1 },
  { C: 64, H: 32, CO: 128, K: 1, S: 2, P: 0 },
  { C: 128, H: 16, CO: 256, K: 1, S: 2, P: 0 },
  { C: 256, H: 8, CO: 512, K: 1, S: 2, P: 0 },
  { C: 16, H: 32, CO: 16, K: 3, S: 1, P: 1 },
  { C: 32, H: 32, CO: 32, K: 3, S: 1, P: 1 },
  { C: 16, H: 32, CO: 32, K: 3, S: 2, P: 1 },
  { C: 16, H: 32, CO: 32, K: 1, S: 2, P: 0 },
  { C: 16, H: 28, CO: 16, K: 3, S: 1, P: 1 },
  { C: 32, H: 28, CO: 32, K: 3, S: 1, P: 1 },
  { C: 16, H: 28, CO: 32, K: 3, S: 1, P: 1 },
];

function rand(n: number): Float32Array {
  const a = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    a[i] = (s / 2 ** 32 - 0.5) * 0.2;
  }
  return a;
}

type Pass = 'fwd' | 'dgrad' | 'wgrad';

function makeCase(sh: Shape, pass: Pass): BenchCase {
  const OH = Math.floor((sh.H + 2 * sh.P - sh.K) / sh.S) + 1;
  const opts = { stride: sh.S, padding: sh.P };
  let x: Tensor | null = null;
  let w: Tensor | null = null;
  let dy: Tensor | null = null;
  return {
    name: `conv2d ${pass} ${sh.K}x${sh.K}s${sh.S} ${sh.C}->${sh.CO}@${sh.H}² N${N}`,
    flops: 2 * N * OH * OH * sh.CO * sh.K * sh.K * sh.C,
    peerKey: `conv2d:${pass}:${N},${sh.H},${sh.H},${sh.C},${sh.CO},${sh.K},${sh.S},${sh.P}`,
    setup() {
      x = tensor(rand(N * sh.H * sh.H * sh.C), [N, sh.H, sh.H, sh.C]);
      w = tensor(rand(sh.K * sh.K * sh.C * sh.CO), [sh.K, sh.K, sh.C, sh.CO]);
      dy = tensor(rand(N * OH * OH * sh.CO), [N, OH, OH, sh.CO]);
    },
    run() {
      const r = pass === 'fwd' ? conv2dRaw.forward(x!, w!, null, opts) : pass === 'dgrad' ? conv2dRaw.dx(dy!, x!, w!, opts) : conv2dRaw.dw(dy!, x!, w!, opts);
      r.dispose();
    },
    teardown() {
      x?.dispose();
      w?.dispose();
      dy?.dispose();
    },
  };
}

export const cases: BenchCase[] = shapes.flatMap((sh) => (['fwd', 'dgrad', 'wgrad'] as Pass[]).map((p) => makeCase(sh, p)));
