/**
 * The adapter's measured FMA peak: the reference every other row is compared with. Two launch
 * shapes of kernels/fma_peak.wgsl with the same work (4.3 GFLOP), and the faster one is the peak:
 * - WG 8 × 2,048 groups × 4,096 rounds: the fastest shape on lavapipe (8 invocations = one
 *   256-bit SIMD row; few, long invocations);
 * - WG 256 × 1,024 groups × 256 rounds: 262,144 invocations, enough to fill a large GPU (an
 *   H200 keeps ~270k threads in flight; 16k invocations of 8 measured a seventh of its FP32 rate).
 */
import { rt } from '../../src/tensor/device.js';
import { empty, type Tensor } from '../../src/tensor/tensor.js';
import { Uniforms } from '../../src/tensor/uniforms.js';
import type { BenchCase } from '../types.js';

function fmaPeak(wg: number, groups: number, iters: number): BenchCase {
  let out: Tensor | null = null;
  return {
    name: `FMA peak (4 vec4 chains, WG ${wg} x ${groups})`,
    flops: wg * groups * iters * 64,
    setup() {
      out = empty([wg * groups]);
    },
    run() {
      rt().dispatch({ kernel: 'fma_peak', constants: { WG: wg }, uniforms: new Uniforms().u32(iters).f32(1e-3), buffers: [out!.buffer], workgroups: groups });
    },
    teardown() {
      out?.dispose();
      out = null;
    },
  };
}

export const peakCases: BenchCase[] = [fmaPeak(8, 2048, 4096), fmaPeak(256, 1024, 256)];
