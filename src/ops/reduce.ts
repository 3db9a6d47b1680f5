/** Reductions over axes: sum, mean, max (kernels/reduce.wgsl), and sumTo for broadcast gradients. */
import { rt } from '../tensor/device.js';
import { empty, view, type Shape, type Tensor } from '../tensor/tensor.js';
import { Uniforms } from '../tensor/uniforms.js';
import { record } from '../autograd/tape.js';
import { assertF32, broadcastStrides, groups, MAX_RANK, normAxis, sameShape, stridesOf } from './util.js';
import { binaryRaw, BinaryOp, unaryRaw, UnaryOp } from './elementwise.js';
import { stridedCopy } from './copy.js';

const WG = 64;
/** Below this many outputs a long reduction is split into slices so that all cores work. */
const MIN_PARALLEL = 4096;

function reduceOnce(x: Tensor, keep: number[], red: number[], op: 0 | 1, scale: number, splits: number): Tensor {
  const st = stridesOf(x.shape);
  const kshape = keep.map((a) => x.shape[a]!);
  const rshape = red.map((a) => x.shape[a]!);
  const nOut = kshape.reduce((p, d) => p * d, 1);
  const nRed = rshape.reduce((p, d) => p * d, 1);
  const chunk = Math.ceil(nRed / splits);
  const out = empty([splits, nOut]);
  const u = new Uniforms()
    .u32(nOut, nRed, keep.length, red.length, chunk, splits)
    .f32(splits === 1 ? scale : 1)
    .u32(0)
    .vec4u(kshape, 2)
    .vec4u(keep.map((a) => st[a]!), 2)
    .vec4u(rshape, 2)
    .vec4u(red.map((a) => st[a]!), 2);
  rt().dispatch({ kernel: 'reduce', constants: { OP: op }, uniforms: u, buffers: [x.buffer, out.buffer], workgroups: groups(nOut * splits, WG) });
  if (splits === 1) return out;
  const fin = reduceOnce(out, [1], [0], op, scale, 1);
  out.dispose();
  return fin;
}

/** Raw reduction without autograd; `axes` sorted, unique. Output shape keeps dims as 1 when keepDims. */
export function reduceRaw(x: Tensor, axes: number[], op: 'sum' | 'max', mean: boolean, keepDims: boolean): Tensor {
  if (x.rank > MAX_RANK) throw new Error(`reduce: rank ${x.rank} > ${MAX_RANK}`);
  const red = [...new Set(axes.map((a) => normAxis(a, x.rank, op)))].sort((a, b) => a - b);
  const keep = x.shape.map((_, i) => i).filter((i) => !red.includes(i));
  const nRed = red.reduce((p, a) => p * x.shape[a]!, 1);
  const nOut = x.size / Math.max(1, nRed);
  const splits = nOut < MIN_PARALLEL && nRed > 1024 ? Math.min(256, Math.ceil(nRed / 1024), Math.ceil((MIN_PARALLEL * 4) / Math.max(1, nOut))) : 1;
  // merge adjacent axes that are both reduced or both kept (they are contiguous): a full
  // reduction becomes one axis of stride 1, which the kernel walks without index arithmetic
  const merged: number[] = [];
  const isRed: boolean[] = [];
  x.shape.forEach((d, i) => {
    const rd = red.includes(i);
    if (merged.length && isRed[isRed.length - 1] === rd) merged[merged.length - 1]! *= d;
    else {
      merged.push(d);
      isRed.push(rd);
    }
  });
  const xv = view(x, merged);
  const mRed = isRed.flatMap((rd, i) => (rd ? [i] : []));
  const mKeep = isRed.flatMap((rd, i) => (rd ? [] : [i]));
  const r = reduceOnce(xv, mKeep, mRed, op === 'max' ? 1 : 0, mean ? 1 / nRed : 1, Math.max(1, splits));
  xv.dispose();
  const shape = keepDims ? x.shape.map((d, i) => (red.includes(i) ? 1 : d)) : keep.map((a) => x.shape[a]!);
  const v = view(r, shape);
  r.dispose();
  return v;
}

function axesOf(x: Tensor, axes?: number | number[]): number[] {
  if (axes === undefined) return x.shape.map((_, i) => i);
  return (Array.isArray(axes) ? axes : [axes]).map((a) => normAxis(a, x.rank, 'reduce'));
}

/** Broadcasts g (shape with reduced dims = 1) back to `shape`, times `scale`. */
function expandGrad(g: Tensor, keptShape: Shape, shape: Shape, scale: number): Tensor {
  const out = empty(shape);
  stridedCopy(g, out, shape, broadcastStrides(keptShape, shape), stridesOf(shape));
  if (scale === 1) return out;
  const r = unaryRaw(UnaryOp.affine, out, scale, 0);
  out.dispose();
  return r;
}

export function sum(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  assertF32(x, 'sum');
  const ax = axesOf(x, axes);
  const y = reduceRaw(x, ax, 'sum', false, keepDims);
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  return record('sum', y, [x], (g) => [expandGrad(g, kept, x.shape, 1)]);
}

export function mean(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  assertF32(x, 'mean');
  const ax = axesOf(x, axes);
  const y = reduceRaw(x, ax, 'sum', true, keepDims);
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const n = ax.reduce((p, a) => p * x.shape[a]!, 1);
  return record('mean', y, [x], (g) => [expandGrad(g, kept, x.shape, 1 / n)]);
}

/** Max over axes; the gradient flows to every position equal to the max. */
export function max(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  assertF32(x, 'max');
  const ax = axesOf(x, axes);
  const y = reduceRaw(x, ax, 'max', false, keepDims);
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  return record(
    'max',
    y,
    [x],
    (g) => {
      const yv = view(y, kept);
      const mask = binaryRaw(BinaryOp.equal, x, yv);
      const gv = view(g, kept);
      const r = binaryRaw(BinaryOp.mul, mask, gv);
      yv.dispose();
      mask.dispose();
      gv.dispose();
      return [r];
    },
    [x, y],
  );
}

/**
 * Sums a broadcast gradient back to `shape`. Returns `g` itself when the shapes already match;
 * otherwise a new tensor, disposing `g` when `disposeInput`.
 */
export function sumTo(g: Tensor, shape: Shape, disposeInput = false): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const off = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < off || shape[i - off] === 1) axes.push(i);
  const r = reduceRaw(g, axes, 'sum', false, false);
  const v = view(r, shape);
  r.dispose();
  if (disposeInput) g.dispose();
  return v;
}
