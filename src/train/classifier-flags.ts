/**
 * The classifier recipe's command-line flags (train, attack and reproduce), declared once: kind,
 * help and the preset field each one overrides. ClassifierOverrides is derived from this table,
 * the presets give the defaults (presets.ts), withClassifierOverrides validates the combination.
 * --seed stays apart, since each script words it itself (reproduce's also seeds REFINE).
 */
import { flagOptions, flagUsage, num, readFlags, type Flag, type FlagValue } from '../util/flags.js';
import type { ClassifierPreset } from './presets.js';

interface ClassifierFlag extends Flag {
  /** the preset field the flag overrides */
  key: string;
}

const CLASSIFIER_FLAGS = {
  epochs: { key: 'epochs', kind: 'int', help: 'training epochs' },
  'batch-size': { key: 'batchSize', kind: 'int', help: 'batch size' },
  lr: { key: 'lr', kind: 'pos', help: 'learning rate' },
  width: { key: 'width', kind: 'pos', help: 'ResNet width multiplier' },
  subset: { key: 'trainSubset', kind: 'int', help: 'train on a seeded subset of N training images' },
  depth: { key: 'depth', kind: { choices: ['18', '50'] }, help: "ResNet-18 (default) or ResNet-50 (the black box of the paper's App. E)" },
  milestones: {
    key: 'milestones',
    kind: 'int-list',
    help: 'epochs (0-indexed) at whose start the lr is multiplied by gamma\n(the preset\'s also when --epochs changes: quick [2], paper [100,130])',
  },
  gamma: { key: 'gamma', kind: 'pos', help: 'the lr factor at each milestone (presets: 0.1)' },
} as const satisfies Record<string, ClassifierFlag>;

type Table = typeof CLASSIFIER_FLAGS;

/** A flag's value as its preset field holds it (--depth 18|50 is a number there). */
type FieldValue<F extends ClassifierFlag> = F['key'] extends 'depth' ? 18 | 50 : FlagValue<F> extends readonly number[] ? number[] : FlagValue<F>;

/** Command-line overrides of a classifier preset (undefined: keep the preset's value), one per flag, and the seed. */
export type ClassifierOverrides = { -readonly [N in keyof Table as Table[N]['key']]?: FieldValue<Table[N]> } & { seed?: number };

// every flag overrides a field of the preset (a typo in a key fails to compile here)
const KEYS_ARE_FIELDS: Table[keyof Table]['key'] extends keyof ClassifierPreset ? true : never = true;
void KEYS_ARE_FIELDS;

export const CLASSIFIER_OPTIONS = { ...flagOptions(CLASSIFIER_FLAGS), seed: { type: 'string' } } as const;

export const CLASSIFIER_USAGE = flagUsage(CLASSIFIER_FLAGS);

/** The classifier overrides from CLASSIFIER_OPTIONS' flags (validated; see withClassifierOverrides). */
export function classifierFlags(v: { [K in keyof typeof CLASSIFIER_OPTIONS]?: string }): ClassifierOverrides {
  const read = readFlags(CLASSIFIER_FLAGS, v) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(CLASSIFIER_FLAGS) as [string, ClassifierFlag][]) {
    if (read[name] !== undefined) out[f.key] = f.key === 'depth' ? Number(read[name]) : read[name];
  }
  const seed = num('seed', v.seed, 'nonneg-int');
  if (seed !== undefined) out.seed = seed;
  return out as ClassifierOverrides;
}
