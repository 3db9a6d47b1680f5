/**
 * How the memory-bound kernels (batch norm, resizing, elementwise) spread their work over
 * invocations, in one place. Two layouts (docs/engine.md, "Kernel variants"):
 *   - 'lanes' (lavapipe): small workgroups; the batch-norm elementwise passes walk 4 rows per
 *     invocation so that the per-channel values are loaded once per 4 elements (every load is a
 *     per-lane loop there, whatever it reads), and its reductions use ~4k partial sums.
 *   - 'coalesced' (real GPUs): 256-invocation workgroups, one element (vec4) per invocation so
 *     that neighbouring invocations touch neighbouring addresses, and ~64k partial sums so that
 *     the reductions fill the device.
 * 'auto' takes the layout `autotune()` measured faster on this adapter, else 'lanes'.
 * The numerics are the same in both up to float rounding of the reductions (tests run both).
 */
import { tunedVariant, variantSwitch } from './tuning.js';

export type MemoryVariant = 'auto' | 'lanes' | 'coalesced';
export const MEMORY_VARIANTS: readonly MemoryVariant[] = ['auto', 'lanes', 'coalesced'];

export interface MemoryLayout {
  family: 'lanes' | 'coalesced';
  /** invocations per workgroup */
  wg: number;
  /** rows walked per invocation by the batch-norm elementwise passes (RPI in kernels/batchnorm.wgsl) */
  rowsPerInvocation: number;
  /** about this many (slab, channel) partial sums in the batch-norm reductions */
  reductionParallelism: number;
}

const LAYOUTS: Record<MemoryLayout['family'], MemoryLayout> = {
  lanes: { family: 'lanes', wg: 64, rowsPerInvocation: 4, reductionParallelism: 4096 },
  coalesced: { family: 'coalesced', wg: 256, rowsPerInvocation: 1, reductionParallelism: 65536 },
};

const forced = variantSwitch('setMemoryVariant', 'REFINE_MEMORY_VARIANT', MEMORY_VARIANTS);

/** Forces the layout of the memory-bound kernels ('auto': the autotuned one); REFINE_MEMORY_VARIANT sets it at start. */
export function setMemoryVariant(v: MemoryVariant): void {
  forced.set(v);
}
export function getMemoryVariant(): MemoryVariant {
  return forced.get();
}

/** The layout in force. */
export function memoryLayout(): MemoryLayout {
  const variant = forced.get();
  const f = variant === 'auto' ? tunedVariant('memory') : variant;
  return f === 'coalesced' ? LAYOUTS.coalesced : LAYOUTS.lanes;
}
