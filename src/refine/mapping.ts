/**
 * REFINE's output mapping (docs/method.md, "The defense"): a fixed permutation of the classes with
 * no fixed point (l̃ ≠ l), applied to the softmax probabilities: y[:, perm[j]] = p[:, j].
 */
import type { Rng } from '../util/random.js';

/** A uniformly random derangement: reshuffle until no class maps to itself (rejection sampling). */
export function randomDerangement(k: number, rng: Rng): Int32Array {
  if (!Number.isInteger(k) || k < 2) throw new Error(`a derangement needs at least 2 classes, got ${k}`);
  const perm = Int32Array.from({ length: k }, (_, i) => i);
  do rng.shuffle(perm);
  while (perm.some((v, i) => v === i));
  return perm;
}

export function identityMapping(k: number): Int32Array {
  return Int32Array.from({ length: k }, (_, i) => i);
}

export function invertPermutation(perm: Int32Array): Int32Array {
  const inv = new Int32Array(perm.length);
  perm.forEach((v, i) => (inv[v] = i));
  return inv;
}

export function checkPermutation(perm: ArrayLike<number>, k: number): Int32Array {
  const p = Int32Array.from(perm);
  const seen = new Set(p);
  if (p.length !== k || seen.size !== k || p.some((v) => v < 0 || v >= k)) throw new Error(`mapping [${Array.from(p)}] is not a permutation of ${k} classes`);
  return p;
}
