/** All differentiable ops. Adding an op: a kernel in kernels/, an op file here, a test in test/. */
import { setAutogradKernels } from '../autograd/tape.js';
import { add, binaryInPlace, BinaryOp } from './elementwise.js';
import { cloneRaw, onesLike } from './creation.js';

export * from './elementwise.js';
export * from './reduce.js';
export * from './shape.js';
export * from './creation.js';
export { stridedCopy, fillRaw } from './copy.js';

setAutogradKernels({
  add,
  onesLike,
  copy: cloneRaw,
  addInPlace: (target, g) => binaryInPlace(BinaryOp.add, target, g),
});
