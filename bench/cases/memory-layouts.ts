/**
 * The memory-bound kernels' two invocation layouts side by side (src/ops/memory-plan.ts): the
 * batch-norm and upsampling rows and both training steps, each forced to 'lanes' and to
 * 'coalesced' (`npm run bench -- "memory layout"`; autotune() picks one per adapter from a smaller
 * workload).
 */
import { getMemoryVariant, setMemoryVariant, type MemoryVariant } from '../../src/ops/memory-plan.js';
import type { BenchCase } from '../types.js';
import { cases as layerCases } from './layers.js';
import { classifierStep, refineStep } from './models.js';

function under(v: MemoryVariant, c: BenchCase): BenchCase {
  const forced = <T>(fn: () => T): T => {
    const prev = getMemoryVariant();
    setMemoryVariant(v);
    try {
      return fn();
    } finally {
      setMemoryVariant(prev);
    }
  };
  return {
    name: `memory layout ${v}: ${c.name}`,
    ...(c.flops !== undefined ? { flops: c.flops } : {}),
    ...(c.bytes !== undefined ? { bytes: c.bytes } : {}),
    ...(c.images !== undefined ? { images: c.images } : {}),
    onlyWhenNamed: true,
    setup: () => forced(() => c.setup()),
    run: () => forced(() => c.run()),
    teardown: () => c.teardown(),
  };
}

const subjects: BenchCase[] = [...layerCases.filter((c) => /batchnorm|upsample/.test(c.name)), classifierStep(), refineStep()];

// the two layouts of a subject next to each other, so that host noise hits both alike
export const cases: BenchCase[] = subjects.flatMap((c) => (['lanes', 'coalesced'] as const).map((v) => under(v, c)));
