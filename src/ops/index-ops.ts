/**
 * Index ops on the last (class) axis (kernels/index.wgsl). Leading axes are rows: x [..., K].
 *
 * - gatherCols(x, idx)             y[..., j] = x[..., idx[j]]          grad: scatter-add
 * - scatterCols(x, idx, outCols)   y[..., idx[j]] = x[..., j], 0 elsewhere (repeated indices add)
 *                                                                       grad: gather
 * - takeAlong(x, idx)              y[...] = x[..., idx[...]]           grad: g at idx, 0 elsewhere
 * - argmax(x)                      first index of the row maximum (i32, no gradient)
 * - oneHot(idx, K)                 f32 [..., K]
 * - remapClasses(p, perm)          REFINE's output mapping y[:, perm[j]] = p[:, j]
 *
 * Indices are i32 tensors or host data (Int32Array / number[]). Host indices are validated on
 * the host (range; injectivity for scatterCols; a permutation for remapClasses). Indices already
 * on the GPU are not read back; an out-of-range one never touches memory out of bounds: it
 * gathers 0 and scatters nothing.
 */
import { rt } from '../tensor/device.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { Uniforms } from '../tensor/uniforms.js';
import { record } from '../autograd/tape.js';
import { assertF32, groups } from './util.js';
import { fillRaw } from './copy.js';
import { labelsTensor, type Labels } from './loss.js';

const WG = 64;

function rowsOf(x: Tensor, op: string): { rows: number; cols: number } {
  assertF32(x, op);
  if (x.rank === 0) throw new Error(`${op}: expected a tensor of rank >= 1 (classes on the last axis), got a scalar`);
  const cols = x.shape[x.rank - 1]!;
  return { rows: x.rank === 1 ? 1 : x.shape.slice(0, -1).reduce((p, d) => p * d, 1), cols };
}

function dispatch(entry: string, rows: number, cols: number, ocols: number, buffers: (GPUBuffer | null)[], n: number): void {
  if (n === 0) return;
  rt().dispatch({
    kernel: 'index',
    entry,
    uniforms: new Uniforms().u32(rows, cols, ocols, 0),
    buffers,
    workgroups: groups(n, WG),
  });
}

function isHost(idx: Labels): boolean {
  return idx instanceof Int32Array || Array.isArray(idx);
}

function idxLength(idx: Labels, op: string): number {
  if (isHost(idx)) return (idx as ArrayLike<number>).length;
  const t = idx as Tensor;
  if (t.rank !== 1) throw new Error(`${op}: indices must be 1-D, got [${t.shape}]`);
  return t.size;
}

/** Raw gather (no autograd): y[r, j] = x[r, idx[j]]. */
function gatherRaw(x: Tensor, idx: Tensor, rows: number, cols: number, outShape: readonly number[]): Tensor {
  const J = idx.size;
  const y = empty(outShape);
  dispatch('gather_cols', rows, cols, J, [x.buffer, idx.buffer, y.buffer, null], rows * J);
  return y;
}

/** Raw scatter-add (no autograd): y = 0; y[r, idx[j]] += x[r, j]. */
function scatterRaw(x: Tensor, idx: Tensor, rows: number, cols: number, outShape: readonly number[], outCols: number): Tensor {
  const y = fillRaw(empty(outShape), 0);
  dispatch('scatter_add', rows, cols, outCols, [x.buffer, idx.buffer, y.buffer, null], rows);
  return y;
}

/** y[..., j] = x[..., idx[j]]: picks (and may repeat) columns. Gradient: scatter-add. */
export function gatherCols(x: Tensor, idx: Labels): Tensor {
  const op = 'gatherCols';
  const { rows, cols } = rowsOf(x, op);
  const J = idxLength(idx, op);
  const { t, owned } = labelsTensor(idx, [J], cols, op, 'indices');
  const outShape = [...x.shape.slice(0, -1), J];
  const y = gatherRaw(x, t, rows, cols, outShape);
  record(op, y, [x], (g) => [scatterRaw(g, t, rows, J, x.shape, cols)], [t]);
  if (owned) t.dispose();
  return y;
}

/**
 * y[..., idx[j]] = x[..., j] with zeros in the columns no index names; y has `outCols` columns
 * and idx one entry per column of x. Meant for injective idx (checked for host indices); repeated
 * GPU indices add up. Gradient: gather.
 */
export function scatterCols(x: Tensor, idx: Labels, outCols: number): Tensor {
  const op = 'scatterCols';
  const { rows, cols } = rowsOf(x, op);
  if (!Number.isInteger(outCols) || outCols < 0) throw new Error(`${op}: outCols must be a non-negative integer, got ${outCols}`);
  const J = idxLength(idx, op);
  if (J !== cols) throw new Error(`${op}: ${J} indices for ${cols} columns of x [${x.shape}]`);
  if (isHost(idx)) {
    const seen = new Set<number>();
    for (const v of idx as ArrayLike<number> & Iterable<number>) {
      if (seen.has(v)) throw new Error(`${op}: index ${v} appears twice (indices must be injective)`);
      seen.add(v);
    }
  }
  const { t, owned } = labelsTensor(idx, [J], outCols, op, 'indices');
  const outShape = [...x.shape.slice(0, -1), outCols];
  const y = scatterRaw(x, t, rows, cols, outShape, outCols);
  record(op, y, [x], (g) => [gatherRaw(g, t, rows, outCols, x.shape)], [t]);
  if (owned) t.dispose();
  return y;
}

/**
 * REFINE's hard-coded output mapping (docs/method.md, "The defense"): y[:, perm[j]] = p[:, j], i.e.
 * scatterCols(p, perm, K). Host permutations are checked to be permutations of 0..K-1.
 */
export function remapClasses(p: Tensor, perm: Labels): Tensor {
  const { cols } = rowsOf(p, 'remapClasses');
  const n = idxLength(perm, 'remapClasses');
  if (n !== cols) throw new Error(`remapClasses: a permutation of ${n} for ${cols} classes of p [${p.shape}]`);
  return scatterCols(p, perm, cols);
}

/** y[...] = x[..., idx[...]] (one class per row, e.g. the probability of the label). */
export function takeAlong(x: Tensor, idx: Labels): Tensor {
  const op = 'takeAlong';
  const { rows, cols } = rowsOf(x, op);
  const rowShape = x.shape.slice(0, -1);
  const { t, owned } = labelsTensor(idx, rowShape, cols, op, 'indices');
  const y = empty(rowShape);
  dispatch('take_along', rows, cols, 0, [x.buffer, t.buffer, y.buffer, null], rows);
  record(
    op,
    y,
    [x],
    (g) => {
      const dx = empty(x.shape);
      dispatch('take_along_bwd', rows, cols, 0, [g.buffer, t.buffer, dx.buffer, null], rows * cols);
      return [dx];
    },
    [t],
  );
  if (owned) t.dispose();
  return y;
}

/** Index of the first maximum along the last axis, as i32 [...] (not differentiable). */
export function argmax(x: Tensor): Tensor {
  const { rows, cols } = rowsOf(x, 'argmax');
  if (cols === 0) throw new Error(`argmax: the last axis of [${x.shape}] is empty`);
  const y = empty(x.shape.slice(0, -1), 'i32');
  dispatch('argmax_rows', rows, cols, 0, [x.buffer, null, null, y.buffer], rows);
  return y;
}

/** f32 [..., K] with a 1 at each label (labels outside [0, K) give a zero row for GPU data). */
export function oneHot(idx: Labels, K: number): Tensor {
  const op = 'oneHot';
  if (!Number.isInteger(K) || K < 0) throw new Error(`${op}: K must be a non-negative integer, got ${K}`);
  const shape = isHost(idx) ? [(idx as ArrayLike<number>).length] : (idx as Tensor).shape;
  const { t, owned } = labelsTensor(idx, shape, K, op, 'labels');
  const rows = t.size;
  const y = empty([...shape, K]);
  dispatch('one_hot', rows, K, 0, [null, t.buffer, y.buffer, null], rows * K);
  if (owned) t.dispose();
  return y;
}
