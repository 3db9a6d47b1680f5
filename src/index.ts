/** refine-gpu: a WebGPU tensor engine with autograd, and the REFINE backdoor defense. */
export { init, rt, shutdown, type InitOptions } from './tensor/device.js';
export { Runtime, type DispatchSpec } from './tensor/runtime.js';
export { Tensor, tensor, empty, view, type DType, type Shape } from './tensor/tensor.js';
export { scope, keep } from './tensor/scope.js';
export { Uniforms } from './tensor/uniforms.js';
export { backward, noGrad, isGradEnabled, releaseGraph, record } from './autograd/tape.js';
export * as ops from './ops/all.js';
export { Rng } from './util/random.js';
