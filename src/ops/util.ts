/** Shared helpers for op implementations. */
import type { Shape, Tensor } from '../tensor/tensor.js';

export const MAX_RANK = 8;

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** NumPy broadcasting of two shapes. */
export function broadcastShapes(a: Shape, b: Shape, op = 'op'): number[] {
  const r = Math.max(a.length, b.length);
  const out = new Array<number>(r);
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`${op}: shapes [${a}] and [${b}] do not broadcast`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` (right-aligned to `outShape`) with 0 on broadcast dimensions. */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const st = stridesOf(shape);
  const off = outShape.length - shape.length;
  return outShape.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : st[i - off]!));
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertF32(t: Tensor, op: string): void {
  if (t.dtype !== 'f32') throw new Error(`${op}: expected an f32 tensor, got ${t.dtype} [${t.shape}]`);
}

export function assertRank(t: Tensor, rank: number, op: string, what = 'input'): void {
  if (t.rank !== rank) throw new Error(`${op}: ${what} must have rank ${rank}, got [${t.shape}]`);
}

/** Workgroup count for `n` invocations in groups of `wg`. */
export function groups(n: number, wg: number): number {
  return Math.ceil(n / wg);
}

/** Normalises a possibly negative axis. */
export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}
