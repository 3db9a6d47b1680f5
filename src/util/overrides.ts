/**
 * Copies the defined values of `overrides` onto `target`, key by key in the order given (command-
 * line overrides of a preset). The order matters: a key the preset lacks is appended, and presets
 * are hashed as JSON to name their run folders, so it must stay the order earlier runs used.
 */
export function assignDefined<T extends object>(target: T, overrides: Partial<T>, keys: readonly (keyof T)[]): T {
  for (const k of keys) if (overrides[k] !== undefined) target[k] = overrides[k] as T[keyof T];
  return target;
}
