/**
 * The REFINE recipe's command-line flags, declared once for every script that trains REFINE
 * (`reproduce`, where they carry a `refine-` prefix beside the classifier's own --epochs / --lr,
 * and `defend`, where there is no other recipe): kind, help and the override each one sets. The
 * overrides' type (RefineOverrides) is derived from this table, the presets give the defaults,
 * and withRefineOverrides validates the combination.
 */
import { flagOptions, flagUsage, readKeyed, renamedTable, type KeyedFlag, type KeyedOverrides } from '../util/flags.js';
import type { RefinePreset } from './refine-presets.js';

interface RecipeFlag extends KeyedFlag {
  /** its name in reproduce (default: the same as in defend) */
  reproduce?: string;
}

/** Names as `defend` spells them; `reproduce` where it differs. */
const RECIPE = {
  epochs: { key: 'epochs', kind: 'int', reproduce: 'refine-epochs', help: 'REFINE epochs' },
  unlabeled: { key: 'trainSubset', kind: 'int', reproduce: 'refine-subset', help: 'train on a seeded subset of N unlabeled images' },
  'batch-size': { key: 'batchSize', kind: 'int', reproduce: 'refine-batch-size', help: 'REFINE batch size' },
  lr: { key: 'lr', kind: 'pos', reproduce: 'refine-lr', help: "REFINE's (peak) learning rate" },
  schedule: {
    key: 'schedule',
    kind: { choices: ['onecycle', 'multistep'] },
    reproduce: 'refine-schedule',
    help: 'per-step one-cycle lr peaking at the lr, or the official\nper-epoch steps',
  },
  milestones: {
    key: 'milestones',
    kind: 'int-list',
    reproduce: 'refine-milestones',
    help: "epochs (0-indexed) at whose start the multistep lr is multiplied\nby the gamma (default: the official [epochs−50, epochs−20], γ 0.8)",
  },
  gamma: { key: 'gamma', kind: 'pos', reproduce: 'refine-gamma', help: 'the multistep schedule\'s factor' },
  'unet-channels': { key: 'unetChannels', kind: 'int', help: "the UNet's base width c (16 in the 2-core presets, 64 in the paper's)" },
  lambda: { key: 'lambda', kind: 'nonneg', help: 'weight of the SupCon term (official 0.1; 0 switches it off)' },
  utility: { key: 'utility', kind: { choices: ['bce', 'ce'] }, help: 'the utility loss (bce: the official code)' },
  renormalize: {
    key: 'renormalize',
    kind: 'on-off',
    help: "normalise T(x) like the classifier's inputs before it\n(off: the official code)",
  },
  'augmentation-guard': {
    key: 'augmentationGuard',
    kind: 'on-off',
    help: "check whether REFINE's augmentation, a brightness/contrast\njitter or a rotation fires the backdoor; where one does, take the\npseudo-labels from the un-augmented images and drop the resized\ncrop (or train with the jitter or the rotation)",
  },
  'pseudo-labels': {
    key: 'pseudoLabels',
    kind: { choices: ['augmented', 'plain'] },
    help: 'pseudo-labels from the augmented batch (the official code) or\nfrom the un-augmented images',
  },
} as const satisfies Record<string, RecipeFlag>;

type Recipe = typeof RECIPE;

/**
 * What a command line may change in a REFINE preset: one optional field per recipe flag, typed by
 * the flag's kind (the flag's help says what it means).
 */
export type RefineOverrides = KeyedOverrides<Recipe>;

// every flag sets a field of the REFINE configuration (a typo in a key fails to compile here)
const KEYS_ARE_FIELDS: Recipe[keyof Recipe]['key'] extends keyof RefinePreset ? true : never = true;
void KEYS_ARE_FIELDS;

export type RecipeFlagStyle = 'reproduce' | 'defend';

/** A flag's name in a script's style. */
function nameIn(style: RecipeFlagStyle): (name: string, f: KeyedFlag) => string {
  return (name, f) => (style === 'reproduce' ? ((f as RecipeFlag).reproduce ?? name) : name);
}

/** The recipe flags' parseArgs options (all strings). */
export function recipeFlagOptions(style: RecipeFlagStyle): Record<string, { type: 'string' | 'boolean' }> {
  return flagOptions(renamedTable(RECIPE, nameIn(style)));
}

/** The recipe flags' usage lines ("the REFINE preset's unless given" is said once, above them). */
export function recipeFlagUsage(style: RecipeFlagStyle): string {
  return flagUsage(renamedTable(RECIPE, nameIn(style)));
}

/** The overrides the given flags ask for (validated one by one; withRefineOverrides checks the whole). */
export function recipeOverrides(style: RecipeFlagStyle, values: Record<string, string | boolean | undefined>): RefineOverrides {
  return readKeyed(RECIPE, values, nameIn(style)) as RefineOverrides;
}
