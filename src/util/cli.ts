/**
 * Command-line flags shared by the scripts: one parser, one wording of its errors.
 */
import { existsSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { FolderOptions } from '../data/registry.js';
import type { Normalization } from '../data/dataset.js';
import { num } from './flags.js';

export { num, numList, type FlagNumberKind } from './flags.js';

/**
 * `--mean A[,B,C]` and `--std A[,B,C]` as the input normalisation of a model taking `channels`
 * channels; undefined when neither is given. One without the other, a wrong count, a value that
 * is not a number or a std ≤ 0 throws, naming the flags.
 */
export function normalizationFlags(v: { mean?: string; std?: string }, channels: number): Normalization | undefined {
  const floats = (flag: string, x: string | undefined): number[] | undefined => {
    if (x === undefined) return undefined;
    const xs = x.split(',').map(Number);
    if (!xs.length || xs.some((n) => !Number.isFinite(n))) throw new Error(`--${flag} must be comma-separated numbers, got '${x}'`);
    return xs;
  };
  const mean = floats('mean', v.mean);
  const std = floats('std', v.std);
  if (!mean && !std) return undefined;
  if (!mean || !std || mean.length !== channels || std.length !== channels) throw new Error(`--mean and --std need ${channels} value(s) each`);
  if (std.some((x) => !(x > 0))) throw new Error(`--std values must be positive, got ${v.std}`);
  return { mean, std };
}

/** Model files given as positional arguments: at least one, each existing (else a clear error). */
export function modelFiles(positionals: string[]): string[] {
  if (positionals.length === 0) throw new Error('give at least one model file');
  for (const f of positionals) if (!existsSync(f)) throw new Error(`no such model file: ${f}`);
  return positionals;
}

/**
 * parseArgs, or the error and the usage on stderr and exit status 1 (what every script does
 * with a bad flag); with a `help` flag set, the usage on stdout and exit status 0.
 */
export function parseArgsOrExit<T extends ParseArgsConfig>(script: string, usage: string, config: T): ReturnType<typeof parseArgs<T>> {
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs(config);
  } catch (e) {
    console.error(`${script}: ${(e as Error).message}\n${usage}`);
    process.exit(1);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed;
}

/** The flags of the scripts that check model files on a dataset (physical-check, augmentation-check, adaptive-check). */
export const MODEL_CHECK_OPTIONS = {
  dataset: { type: 'string', default: 'fashion-mnist' },
  'data-dir': { type: 'string', default: 'data' },
  preset: { type: 'string', default: 'quick' },
  width: { type: 'string' },
} as const;

/** The attack-parameter flags of attack and reproduce (each overrides the official code's default). */
export const ATTACK_OPTIONS = {
  rate: { type: 'string' },
  'cover-rate': { type: 'string' },
  'wanet-k': { type: 'string' },
  'wanet-noise': { type: 'boolean' },
  'pgd-steps': { type: 'string' },
} as const;

export const ATTACK_USAGE = `  --rate X  poison rate (Adaptive-Patch: its poison rate; LC: share of the target class)
  --cover-rate X  (Adaptive-Patch)  --wanet-k N  --wanet-noise  (WaNet)  --pgd-steps N  (LC)`;

/**
 * The attack options from ATTACK_OPTIONS' flags, validated; a flag that the attack does not have
 * is an error. The key order is fixed (rate, coverRate, k, noise, steps): the options enter the
 * run folder's hash, so the same flags name the same folder in every script.
 */
export function attackFlags(attack: string, v: { [K in keyof typeof ATTACK_OPTIONS]?: string | boolean }): Record<string, unknown> {
  const only = (flag: string, names: string[]) => {
    if (!names.includes(attack)) throw new Error(`--${flag} applies to ${names.join(', ')} only, not ${attack}`);
  };
  const str = (k: keyof typeof ATTACK_OPTIONS) => v[k] as string | undefined;
  const opts: Record<string, unknown> = {};
  const rate = num('rate', str('rate'), 'rate');
  if (rate !== undefined) opts[attack === 'adaptive' ? 'poisonRate' : 'rate'] = rate;
  if (str('cover-rate') !== undefined) {
    only('cover-rate', ['adaptive']);
    opts.coverRate = num('cover-rate', str('cover-rate'), 'rate');
  }
  if (str('wanet-k') !== undefined) {
    only('wanet-k', ['wanet']);
    opts.k = num('wanet-k', str('wanet-k'), 'int');
  }
  if (v['wanet-noise']) {
    only('wanet-noise', ['wanet']);
    opts.noise = true;
  }
  if (str('pgd-steps') !== undefined) {
    only('pgd-steps', ['lc']);
    opts.steps = num('pgd-steps', str('pgd-steps'), 'nonneg-int');
  }
  return opts;
}

/** How `folder:DIR` datasets are read (the other datasets ignore these flags). */
export const FOLDER_OPTIONS = {
  'input-size': { type: 'string' },
  channels: { type: 'string' },
} as const;

export const FOLDER_USAGE = `  --input-size N|HxW          resize folder:DIR images to this size (default: their own size)
  --channels 1|3              read folder:DIR images as grey or RGB (default: grey when every file is)`;

/** `--input-size N` or `HxW` and `--channels 1|3` as image-folder options (validated). */
export function folderFlags(v: { 'input-size'?: string; channels?: string }): FolderOptions {
  const out: FolderOptions = {};
  if (v['input-size'] !== undefined) {
    const m = /^(\d+)(?:x(\d+))?$/.exec(v['input-size'].trim());
    const h = m ? Number(m[1]) : NaN;
    const w = m ? Number(m[2] ?? m[1]) : NaN;
    if (!(h > 0 && w > 0)) throw new Error(`--input-size must be N or HxW (positive integers), got '${v['input-size']}'`);
    out.size = { h, w };
  }
  if (v.channels !== undefined) {
    if (v.channels !== '1' && v.channels !== '3') throw new Error(`--channels must be 1 or 3, got '${v.channels}'`);
    out.channels = Number(v.channels) as 1 | 3;
  }
  return out;
}
