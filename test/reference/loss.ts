/** float64 references of the losses. */
import { logSoftmaxRef } from './softmax.js';

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(per: Float64Array, reduction: Reduction): Float64Array {
  if (reduction === 'none') return per;
  let s = 0;
  for (const v of per) s += v;
  return Float64Array.of(reduction === 'mean' ? s / per.length : s);
}

/** PyTorch F.cross_entropy(x [B, K], t [B]) */
export function crossEntropyRef(x: Float64Array, t: ArrayLike<number>, K: number, reduction: Reduction = 'mean'): Float64Array {
  const B = t.length;
  const ls = logSoftmaxRef(x, K);
  const per = new Float64Array(B);
  for (let b = 0; b < B; b++) per[b] = -ls[b * K + t[b]!]!;
  return reduce(per, reduction);
}

/** PyTorch BCELoss: -(t max(log p, -100) + (1 - t) max(log(1 - p), -100)) */
export function bceRef(p: Float64Array, t: Float64Array, reduction: Reduction = 'mean'): Float64Array {
  const per = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const lp = Math.max(Math.log(p[i]!), -100);
    const l1p = Math.max(Math.log(1 - p[i]!), -100);
    per[i] = -(t[i]! * lp + (1 - t[i]!) * l1p);
  }
  return reduce(per, reduction);
}
