/** Tensor creation: constants, seeded random tensors, clone/detach. */
import { empty, tensor, view, type DType, type Shape, type Tensor } from '../tensor/tensor.js';
import { record } from '../autograd/tape.js';
import { Rng } from '../util/random.js';
import { fillRaw, stridedCopy } from './copy.js';

export function full(shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
  return fillRaw(empty(shape, dtype), value);
}
export const zeros = (shape: Shape, dtype: DType = 'f32') => full(shape, 0, dtype);
export const ones = (shape: Shape) => full(shape, 1);
export const zerosLike = (t: Tensor) => full(t.shape, 0, t.dtype);
export const onesLike = (t: Tensor) => full(t.shape, 1);

/** Uniform in [lo, hi), generated on the host from a seed (reproducible everywhere). */
export function rand(shape: Shape, seed: number, lo = 0, hi = 1): Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((p, d) => p * d, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(lo, hi);
  return tensor(a, shape);
}

/** Normal(mean, std), generated on the host from a seed. */
export function randn(shape: Shape, seed: number, mean = 0, std = 1): Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((p, d) => p * d, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = mean + std * rng.normal();
  return tensor(a, shape);
}

/** A bit-exact copy with its own storage (f32 or i32), no autograd. */
export function cloneRaw(x: Tensor): Tensor {
  const y = empty(x.shape, x.dtype);
  stridedCopy(x, y, [x.size], [1], [1]);
  return y;
}

/** A copy with its own storage (differentiable). */
export function clone(x: Tensor): Tensor {
  return record('clone', cloneRaw(x), [x], (g) => [cloneRaw(g)]);
}

/** The same data cut off from the graph (shares storage). */
export function detach(x: Tensor): Tensor {
  return view(x, x.shape);
}
