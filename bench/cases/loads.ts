/**
 * What a storage load costs by address pattern (kernels/load_probe.wgsl): the numbers behind the
 * kernels' design. GB/s counts the bytes every lane reads (16 per vec4 and step), so the three
 * rows compare directly: on Mesa 25.0 lavapipe a load is a per-lane loop whether the lanes'
 * addresses differ or are one uniform address, and broadcasting one lane's load to the others is
 * several times cheaper (docs/performance.md, "What limits speed on lavapipe"). Needs the
 * subgroups feature with 8-wide subgroups (skipped otherwise).
 */
import { rt } from '../../src/tensor/device.js';
import { empty, type Tensor } from '../../src/tensor/tensor.js';
import { Uniforms } from '../../src/tensor/uniforms.js';
import type { BenchCase } from '../types.js';

const GROUPS = 4096;
const ITERS = 4096;
/** workgroups start at (97·g mod SPAN)·8 vec4s: spread over 4 MiB + the iterations' reach */
const SPAN = 8192;

function loadProbe(pattern: 'divergent' | 'uniform' | 'broadcast', what: string): BenchCase {
  let x: Tensor | null = null;
  let out: Tensor | null = null;
  return {
    name: `storage load, ${what} (8 lanes x ${GROUPS} x ${ITERS} vec4)`,
    bytes: GROUPS * 8 * ITERS * 16,
    available: () => rt().subgroupSize === 8,
    setup() {
      x = empty([(SPAN * 8 + ITERS * 8 + 8) * 4]);
      out = empty([GROUPS * 8 * 4]);
    },
    run() {
      rt().dispatch({ kernel: 'load_probe', entry: `main_${pattern}`, uniforms: new Uniforms().u32(ITERS).u32(SPAN), buffers: [x!.buffer, out!.buffer], workgroups: GROUPS });
    },
    teardown() {
      x?.dispose();
      out?.dispose();
      x = out = null;
    },
  };
}

export const cases: BenchCase[] = [loadProbe('divergent', 'each lane its own address'), loadProbe('uniform', 'one uniform address'), loadProbe('broadcast', 'one lane loads, subgroupBroadcast')];
