/**
 * The classifier recipe's command-line flags (train, attack and reproduce), declared once: kind,
 * help and the preset field each one overrides. ClassifierOverrides is derived from this table,
 * the presets give the defaults (presets.ts), withClassifierOverrides validates the combination.
 * --seed stays apart, since each script words it itself (reproduce's also seeds REFINE).
 */
import { flagOptions, flagUsage, num, readKeyed, type KeyedFlag, type KeyedOverrides } from '../util/flags.js';
import type { ClassifierPreset } from './presets.js';

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
} as const satisfies Record<string, KeyedFlag>;

type Table = typeof CLASSIFIER_FLAGS;

/** Command-line overrides of a classifier preset (undefined: keep the preset's value), one per flag (--depth 18|50 is a number in the preset), and the seed. */
export type ClassifierOverrides = Omit<KeyedOverrides<Table>, 'depth'> & { depth?: 18 | 50; seed?: number };

// every flag overrides a field of the preset (a typo in a key fails to compile here)
const KEYS_ARE_FIELDS: Table[keyof Table]['key'] extends keyof ClassifierPreset ? true : never = true;
void KEYS_ARE_FIELDS;

export const CLASSIFIER_OPTIONS = { ...flagOptions(CLASSIFIER_FLAGS), seed: { type: 'string' } } as const;

export const CLASSIFIER_USAGE = flagUsage(CLASSIFIER_FLAGS);

/** The classifier overrides from CLASSIFIER_OPTIONS' flags (validated; see withClassifierOverrides). */
export function classifierFlags(v: { [K in keyof typeof CLASSIFIER_OPTIONS]?: string }): ClassifierOverrides {
  const out = readKeyed(CLASSIFIER_FLAGS, v);
  if (out.depth !== undefined) out.depth = Number(out.depth);
  const seed = num('seed', v.seed, 'nonneg-int');
  if (seed !== undefined) out.seed = seed;
  return out as ClassifierOverrides;
}
