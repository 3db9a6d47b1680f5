/**
 * Every op, for `import * as ops`. Adding an op: a kernel in kernels/, an op file in src/ops/
 * (forward dispatch + `record()` of its backward), its export here, a test in test/ops/.
 */
import { setAutogradKernels } from '../autograd/tape.js';
import { add, binaryInPlace, BinaryOp } from './elementwise.js';
import { cloneRaw, onesLike } from './creation.js';

export * from './elementwise.js';
export * from './reduce.js';
export * from './shape.js';
export * from './creation.js';
export { stridedCopy, fillRaw } from './copy.js';
export * from './matmul.js';
export * from './conv.js';
export * from './norm.js';
export * from './pool.js';
export * from './resize.js';
export * from './gridsample.js';
export * from './softmax.js';
export * from './loss.js';
export * from './index-ops.js';
export { setMemoryVariant, getMemoryVariant, memoryLayout, MEMORY_VARIANTS, type MemoryVariant, type MemoryLayout } from './memory-plan.js';

setAutogradKernels({
  add,
  onesLike,
  copy: cloneRaw,
  addInPlace: (target, g) => binaryInPlace(BinaryOp.add, target, g),
});
