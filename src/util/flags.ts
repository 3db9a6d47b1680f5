/**
 * Command-line flags declared once: each flag's kind and help text, from which come the
 * `parseArgs` options, the usage lines and the parsed, validated values. A configuration's
 * flags (the REFINE recipe, the classifier recipe) are one such table, shared by every script
 * that takes them, so a flag cannot be parsed in one script and forgotten, or worded
 * differently, in another.
 */

export type FlagNumberKind = 'int' | 'nonneg-int' | 'pos' | 'rate';

/**
 * The value of `--name` as a number of the given kind (undefined when the flag was not given):
 * 'int' a positive integer, 'nonneg-int' an integer ≥ 0, 'pos' a positive number, 'rate' a
 * number in [0, 1]. Anything else throws `--name must be …, got '…'`.
 */
export function num(name: string, v: string | undefined, kind: FlagNumberKind): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  const ok = v.trim() !== '' && Number.isFinite(x) && (kind === 'int' ? Number.isInteger(x) && x > 0 : kind === 'nonneg-int' ? Number.isInteger(x) && x >= 0 : kind === 'rate' ? x >= 0 && x <= 1 : x > 0);
  const what = { int: 'a positive integer', 'nonneg-int': 'an integer ≥ 0', rate: 'a number in [0, 1]', pos: 'a positive number' }[kind];
  if (!ok) throw new Error(`--${name} must be ${what}, got '${v}'`);
  return x;
}

/** `--name A,B,...` as numbers of the given kind (undefined when the flag was not given). */
export function numList(name: string, v: string | undefined, kind: FlagNumberKind): number[] | undefined {
  if (v === undefined) return undefined;
  return v.split(',').map((x) => num(name, x.trim(), kind)!);
}

export type FlagKind =
  | FlagNumberKind
  /** a number ≥ 0 (e.g. a loss weight that may be switched off) */
  | 'nonneg'
  /** comma-separated positive integers */
  | 'int-list'
  /** on | off → true | false */
  | 'on-off'
  /** present → true */
  | 'bool'
  /** any text */
  | 'string'
  /** one of the listed words */
  | { choices: readonly string[] };

export interface Flag {
  kind: FlagKind;
  /** the placeholder in the usage line (default: from the kind: N, X, A,B, on|off, the choices) */
  arg?: string;
  help: string;
}

export type FlagTable = Record<string, Flag>;

/** The parsed value of a flag of each kind. */
export type FlagValue<F extends Flag> = F['kind'] extends 'bool' | 'on-off'
  ? boolean
  : F['kind'] extends 'int-list'
    ? number[]
    : F['kind'] extends { choices: readonly (infer C)[] }
      ? C
      : F['kind'] extends 'string'
        ? string
        : number;

/** Every flag of the table, parsed (undefined when the flag was not given). */
export type FlagValues<T extends FlagTable> = { [K in keyof T]?: FlagValue<T[K]> };

/** The `parseArgs` option of each flag of a table: booleans for 'bool', strings otherwise (parsed by readFlags). */
export type FlagOptions<T extends FlagTable> = { [K in keyof T]: { type: T[K]['kind'] extends 'bool' ? 'boolean' : 'string' } };

export function flagOptions<T extends FlagTable>(table: T): FlagOptions<T> {
  return Object.fromEntries(Object.entries(table).map(([name, f]) => [name, { type: f.kind === 'bool' ? 'boolean' : 'string' }])) as FlagOptions<T>;
}

function placeholder(f: Flag): string {
  if (f.arg !== undefined) return f.arg;
  const k = f.kind;
  if (typeof k === 'object') return k.choices.join('|');
  return { int: 'N', 'nonneg-int': 'N', pos: 'X', rate: 'X', nonneg: 'X', 'int-list': 'A,B', 'on-off': 'on|off', bool: '', string: 'S' }[k];
}

/** Usage column where the help text starts (the scripts' hand-written lines use the same). */
const HELP_COLUMN = 30;

/** The usage lines of a table: `  --name ARG` then the help, wrapped help lines indented to the help column. */
export function flagUsage(table: FlagTable): string {
  const lines: string[] = [];
  for (const [name, f] of Object.entries(table)) {
    const head = `  --${name}${placeholder(f) ? ` ${placeholder(f)}` : ''}`;
    const help = f.help.split('\n');
    if (head.length < HELP_COLUMN) lines.push(head.padEnd(HELP_COLUMN) + help[0]);
    else lines.push(head, ' '.repeat(HELP_COLUMN) + help[0]);
    for (const h of help.slice(1)) lines.push(' '.repeat(HELP_COLUMN) + h);
  }
  return lines.join('\n');
}

/** One flag's value, validated: `--name must be …, got '…'` otherwise. */
function readFlag(name: string, f: Flag, v: string | boolean | undefined): unknown {
  if (v === undefined) return undefined;
  const k = f.kind;
  if (k === 'bool') return v === true;
  const s = String(v);
  if (typeof k === 'object') {
    if (!k.choices.includes(s)) throw new Error(`--${name} must be ${k.choices.join(' or ')}, got '${s}'`);
    return s;
  }
  switch (k) {
    case 'string':
      return s;
    case 'on-off':
      if (s === 'on') return true;
      if (s === 'off') return false;
      throw new Error(`--${name} must be on or off, got '${s}'`);
    case 'int-list':
      return numList(name, s, 'int');
    case 'nonneg': {
      const x = Number(s);
      if (s.trim() === '' || !Number.isFinite(x) || x < 0) throw new Error(`--${name} must be a number ≥ 0, got '${s}'`);
      return x;
    }
    default:
      return num(name, s, k);
  }
}

/** The table's flags from parseArgs' values, each validated (undefined where not given). */
export function readFlags<T extends FlagTable>(table: T, values: Record<string, string | boolean | undefined>): FlagValues<T> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(table)) out[name] = readFlag(name, f, values[name]);
  return out as FlagValues<T>;
}

/** The names of the table's flags that were given (for "needs --x" checks). */
export function givenFlags(table: FlagTable, values: Record<string, unknown>): string[] {
  return Object.keys(table).filter((name) => values[name] !== undefined && values[name] !== false);
}

/** A flag that overrides one field (`key`) of a configuration: the recipe tables are made of these. */
export interface KeyedFlag extends Flag {
  key: string;
}

/** A flag's value as a configuration field holds it (a mutable list). */
type FieldOf<F extends Flag> = FlagValue<F> extends readonly number[] ? number[] : FlagValue<F>;

/** The overrides a keyed table can express: one optional field per flag, named by its key. */
export type KeyedOverrides<T extends Record<string, KeyedFlag>> = { -readonly [N in keyof T as T[N]['key']]?: FieldOf<T[N]> };

/**
 * The overrides the given flags of a keyed table ask for, `{ [key]: value }` (validated one by
 * one; absent flags are left out). `nameOf` gives the name a script spells a flag with, where it
 * differs from the table's.
 */
export function readKeyed(table: Record<string, KeyedFlag>, values: Record<string, string | boolean | undefined>, nameOf: (name: string, f: KeyedFlag) => string = (n) => n): Record<string, unknown> {
  const renamed = renamedTable(table, nameOf);
  const read = readFlags(renamed, values) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [n, f] of Object.entries(renamed)) if (read[n] !== undefined) out[f.key] = read[n];
  return out;
}

/** A keyed table's flags under the names a script spells them with (for flagOptions, flagUsage and readKeyed). */
export function renamedTable<F extends KeyedFlag>(table: Record<string, F>, nameOf: (name: string, f: F) => string): Record<string, F> {
  return Object.fromEntries(Object.entries(table).map(([name, f]) => [nameOf(name, f), f]));
}
