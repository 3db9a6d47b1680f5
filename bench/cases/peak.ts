/** The adapter's measured FMA peak: the reference every other row is compared with. */
import { rt } from '../../src/tensor/device.js';
import { empty, type Tensor } from '../../src/tensor/tensor.js';
import { Uniforms } from '../../src/tensor/uniforms.js';
import type { BenchCase } from '../types.js';

const WG = 8;
const GROUPS = 2048;
const ITERS = 4096;
let out: Tensor | null = null;

export const peakCase: BenchCase = {
  name: 'FMA peak (4 vec4 chains, WG 8)',
  flops: WG * GROUPS * ITERS * 64,
  setup() {
    out = empty([WG * GROUPS]);
  },
  run() {
    rt().dispatch({ kernel: 'fma_peak', uniforms: new Uniforms().u32(ITERS).f32(1e-3), buffers: [out!.buffer], workgroups: GROUPS });
  },
  teardown() {
    out?.dispose();
    out = null;
  },
};
