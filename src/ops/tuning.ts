/**
 * The kernel family chosen per op family for the current adapter by `autotune()`
 * (src/ops/autotune.ts). Kept apart from the measuring code so that the ops can read it without
 * importing each other. Unset (the default, and in the tests): each op's 'auto' heuristics.
 */
export type TuneFamily = 'conv' | 'matmul' | 'memory';

const choices = new Map<TuneFamily, string>();

/** The variant `autotune()` chose for a family on this adapter, if it ran. */
export function tunedVariant(f: TuneFamily): string | undefined {
  return choices.get(f);
}

/** Sets (or with `undefined` clears) a family's tuned variant. */
export function setTunedVariant(f: TuneFamily, v: string | undefined): void {
  if (v === undefined) choices.delete(f);
  else choices.set(f, v);
}
