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

/**
 * A forced-variant switch ('auto' unless forced): starts from the environment variable `envName`
 * (a value outside `allowed` is an error, not silently 'auto'); `set` rejects anything outside
 * `allowed`, naming `setter` in the error, and returns the previous variant.
 */
export function variantSwitch<V extends string>(setter: string, envName: string, allowed: readonly V[]): { get(): V; set(v: V): V } {
  const env = (typeof process !== 'undefined' ? process.env?.[envName] : undefined) || 'auto';
  if (!allowed.includes(env as V)) throw new Error(`${envName}=${env}: expected one of ${allowed.join(', ')}`);
  let v = env as V;
  return {
    get: () => v,
    set(next: V) {
      if (!allowed.includes(next)) throw new Error(`${setter}: unknown variant '${String(next)}'`);
      const prev = v;
      v = next;
      return prev;
    },
  };
}
