/**
 * Every folder the pipeline names, in one place. Training runs live under `runs/` (a classifier
 * trained by `npm run train`, a backdoored one by `npm run attack`, LC's benign model), results
 * under `results/` (one folder per dataset and presets, one sub-folder per attack, in which the
 * REFINE variants, the adaptive attack and the black-box experiment each have theirs). A name
 * carries what tells runs apart (attack, dataset, preset, seed) and, where the configuration
 * differs from its preset's, the first 8 hex digits of its configuration hash. The names are
 * part of the committed results (results/backdoored/ holds runs/ folders by name), so a change
 * here orphans them: test/pipeline/run-folders.test.ts pins each.
 */
import { join } from 'node:path';
import { attacks } from '../attacks/index.js';
import { classifierPreset, type ClassifierPreset } from '../train/presets.js';
import { configHash } from '../train/trainer.js';
import type { BackdoorSpec } from './backdoor.js';

/**
 * Where the finished backdoored models reported in the README are committed (model, attack.json,
 * result.json, examples.png of each runs/ folder, under the same name): a fresh clone reuses
 * them instead of retraining (~1 h per attack on 2 cores).
 */
export const COMMITTED_BACKDOORS = 'results/backdoored';

/** A dataset name usable in a folder name ('folder:my/images' → 'folder_my_images'). */
export function datasetTag(dataset: string): string {
  return dataset.replace(/[^a-z0-9-]/gi, '_');
}

/** `npm run train`'s run: runs/train-<dataset>-<preset>-s<seed>. */
export function trainRunDir(dataset: string, preset: string, seed: number, root = 'runs'): string {
  return join(root, `train-${datasetTag(dataset)}-${preset}-s${seed}`);
}

/** True when `p` differs from the named preset in anything but the seed. */
function presetOverridden(presetName: string, p: ClassifierPreset): boolean {
  let base: ClassifierPreset;
  try {
    base = classifierPreset(presetName);
  } catch {
    return true;
  }
  return JSON.stringify({ ...base, seed: p.seed }) !== JSON.stringify(p);
}

/** What names a backdoored model's run. */
export type BackdoorRunName = Pick<BackdoorSpec, 'attack' | 'dataset' | 'presetName' | 'preset' | 'target' | 'attackOptions' | 'lcInit'>;

/**
 * A backdoored model's run: runs/attack-<attack>-<dataset>-<preset>-s<seed>, plus `-<8 hex>` of
 * the overrides when the preset, the target or the attack options differ from the defaults.
 */
export function backdoorRunDir(spec: BackdoorRunName, root = 'runs'): string {
  const name = attacks.get(spec.attack).name;
  const base = `attack-${name}-${datasetTag(spec.dataset)}-${spec.presetName}-s${spec.preset.seed}`;
  const opts = Object.fromEntries(Object.entries(spec.attackOptions ?? {}).filter(([, v]) => v !== undefined));
  const custom = presetOverridden(spec.presetName, spec.preset) || spec.target !== 0 || Object.keys(opts).length > 0 || (spec.lcInit ?? 'benign') !== 'benign';
  const suffix = custom ? `-${configHash({ p: spec.preset, target: spec.target, opts, lcInit: spec.lcInit ?? 'benign' }).slice(0, 8)}` : '';
  return join(root, base + suffix);
}

/** LC's benign model: runs/benign-<dataset>-<preset>-s<seed>-<8 hex of its configuration hash>. */
export function benignRunDir(dataset: string, preset: string, seed: number, hash: string, root = 'runs'): string {
  return join(root, `benign-${datasetTag(dataset)}-${preset}-s${seed}-${hash.slice(0, 8)}`);
}

/** `npm run reproduce`'s results: results/<dataset>-<preset>, with -<REFINE preset> when it differs from the classifier preset. */
export function resultsRoot(dataset: string, preset: string, refinePreset: string, root = 'results'): string {
  return join(root, `${datasetTag(dataset)}-${preset}${refinePreset === preset ? '' : `-${refinePreset}`}`);
}

/** One attack's results under a results root. */
export function attackDir(outRoot: string, attack: string): string {
  return join(outRoot, attack);
}

/** REFINE and its two ablations inside an attack's folder. */
export const VARIANT_DIRS = { refine: 'refine', woHRF: 'ablation-wo-hrf', woSCL: 'ablation-wo-scl' } as const;

/** The two figures of an attack's results, in its figures/ folder: the paper's Fig. 6 sample grid and the training curves. */
export const SAMPLES_FIGURE = 'samples.svg';
export const CURVES_FIGURE = 'curves.svg';

/** An attack's figures, samples then curves. */
export function figureFiles(outRoot: string, attack: string): [string, string] {
  const dir = join(attackDir(outRoot, attack), 'figures');
  return [join(dir, SAMPLES_FIGURE), join(dir, CURVES_FIGURE)];
}

/** The adaptive attack (Table 4) inside an attack's folder. */
export function adaptiveDir(outRoot: string, attack: string): string {
  return join(attackDir(outRoot, attack), 'adaptive');
}

/** Black-box REFINE (Table 11) inside an attack's folder. */
export function blackboxDir(outRoot: string, attack: string): string {
  return join(attackDir(outRoot, attack), 'blackbox');
}
