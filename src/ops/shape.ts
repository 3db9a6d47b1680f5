/** Shape ops with gradients: reshape (a view), permute, transpose, slice, concat, pad, expand. */
import { empty, view, sizeOf, type Shape, type Tensor } from '../tensor/tensor.js';
import { record } from '../autograd/tape.js';
import { fillRaw, stridedCopy } from './copy.js';
import { broadcastShapes, broadcastStrides, normAxis, stridesOf } from './util.js';
import { sumTo } from './reduce.js';

export function reshape(x: Tensor, shape: Shape): Tensor {
  // one dimension may be -1
  const known = shape.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
  const resolved = shape.map((d) => (d === -1 ? x.size / known : d));
  if (shape.filter((d) => d === -1).length > 1 || sizeOf(resolved) !== x.size || !resolved.every(Number.isInteger)) {
    throw new Error(`reshape: cannot reshape [${x.shape}] into [${shape}]`);
  }
  const y = view(x, resolved);
  return record('reshape', y, [x], (g) => [view(g, x.shape)]);
}

export function flatten(x: Tensor, startAxis = 1): Tensor {
  const s = normAxis(startAxis, x.rank, 'flatten');
  return reshape(x, [...x.shape.slice(0, s), -1]);
}

function permuteRaw(x: Tensor, perm: readonly number[]): Tensor {
  const st = stridesOf(x.shape);
  const shape = perm.map((p) => x.shape[p]!);
  const out = empty(shape, x.dtype);
  stridedCopy(x, out, shape, perm.map((p) => st[p]!), stridesOf(shape));
  return out;
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new Error(`permute: [${perm}] is not a permutation of ${x.rank} axes`);
  }
  const inv = perm.map((_, i) => perm.indexOf(i));
  return record('permute', permuteRaw(x, perm), [x], (g) => [permuteRaw(g, inv)]);
}

export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const p = x.shape.map((_, i) => i);
  const i = normAxis(a, x.rank, 'transpose');
  const j = normAxis(b, x.rank, 'transpose');
  [p[i], p[j]] = [p[j]!, p[i]!];
  return permute(x, p);
}

/** Slice [begin, end) per axis (end exclusive; omitted axes are kept whole). */
export function slice(x: Tensor, begin: readonly number[], end?: readonly number[]): Tensor {
  const b = x.shape.map((_, i) => begin[i] ?? 0);
  const e = x.shape.map((d, i) => end?.[i] ?? d);
  for (let i = 0; i < x.rank; i++) {
    if (b[i]! < 0 || e[i]! > x.shape[i]! || b[i]! > e[i]!) throw new Error(`slice: [${b}]..[${e}] out of bounds for [${x.shape}]`);
  }
  const shape = e.map((v, i) => v - b[i]!);
  const st = stridesOf(x.shape);
  const base = b.reduce((p, v, i) => p + v * st[i]!, 0);
  const out = empty(shape, x.dtype);
  stridedCopy(x, out, shape, st, stridesOf(shape), base, 0);
  return record('slice', out, [x], (g) => {
    const gx = fillRaw(empty(x.shape), 0);
    stridedCopy(g, gx, shape, stridesOf(shape), st, 0, base);
    return [gx];
  });
}

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  const x0 = xs[0]!;
  const ax = normAxis(axis, x0.rank, 'concat');
  for (const x of xs) {
    if (x.rank !== x0.rank || x.dtype !== x0.dtype || x.shape.some((d, i) => i !== ax && d !== x0.shape[i])) {
      throw new Error(`concat: shapes [${x0.shape}] and [${x.shape}] differ outside axis ${ax}`);
    }
  }
  const shape = x0.shape.map((d, i) => (i === ax ? xs.reduce((p, x) => p + x.shape[ax]!, 0) : d));
  const out = empty(shape, x0.dtype);
  const ost = stridesOf(shape);
  const offsets: number[] = [];
  let off = 0;
  for (const x of xs) {
    offsets.push(off);
    stridedCopy(x, out, x.shape, stridesOf(x.shape), ost, 0, off * ost[ax]!);
    off += x.shape[ax]!;
  }
  return record('concat', out, xs, (g, needs) =>
    xs.map((x, k) => {
      if (!needs[k]) return null;
      const gx = empty(x.shape);
      stridedCopy(g, gx, x.shape, ost, stridesOf(x.shape), offsets[k]! * ost[ax]!, 0);
      return gx;
    }),
  );
}

/** Constant padding: `pads[i] = [before, after]` for axis i (missing axes unpadded). */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  const p = x.shape.map((_, i) => pads[i] ?? ([0, 0] as const));
  if (p.some(([a, b]) => a < 0 || b < 0 || !Number.isInteger(a) || !Number.isInteger(b))) throw new Error('pad: paddings must be non-negative integers');
  const shape = x.shape.map((d, i) => d + p[i]![0] + p[i]![1]);
  const ost = stridesOf(shape);
  const base = p.reduce((acc, [a], i) => acc + a * ost[i]!, 0);
  const out = fillRaw(empty(shape), value);
  stridedCopy(x, out, x.shape, stridesOf(x.shape), ost, 0, base);
  return record('pad', out, [x], (g) => {
    const gx = empty(x.shape);
    stridedCopy(g, gx, x.shape, ost, stridesOf(x.shape), base, 0);
    return [gx];
  });
}

/** Broadcasts to `shape` (materialised). */
export function expand(x: Tensor, shape: Shape): Tensor {
  const target = broadcastShapes(x.shape, shape, 'expand');
  if (target.length !== shape.length || target.some((d, i) => d !== shape[i])) throw new Error(`expand: cannot expand [${x.shape}] to [${shape}]`);
  const out = empty(shape, x.dtype);
  stridedCopy(x, out, shape, broadcastStrides(x.shape, shape), stridesOf(shape));
  return record('expand', out, [x], (g) => [sumTo(g, x.shape)]);
}
