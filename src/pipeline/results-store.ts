/**
 * Where the reproduction keeps its results: one folder per attack under the output root, with a
 * result.json that says whether the experiment is complete, and the keys that let a run reuse the
 * No Defense / ShrinkPad numbers and the augmentation check measured by another results folder on
 * the same backdoored model and test sets.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configHash } from '../train/trainer.js';
import { readJson } from '../util/files.js';
import type { AttackResult } from './report.js';
import { attackDir } from './run-folders.js';

export { attackDir } from './run-folders.js';


/** True when <dir>/result.json is complete for this configuration (and has the ablations when asked). */
export function isComplete(outRoot: string, attack: string, hash?: string, ablations = false): boolean {
  const r = readJson<AttackResult>(join(attackDir(outRoot, attack), 'result.json'));
  if (!r || r.status !== 'complete') return false;
  if (hash !== undefined && r.configHash !== hash) return false;
  return !ablations || (r.evaluation.woHRF !== undefined && r.evaluation.woSCL !== undefined);
}

/** What the No Defense and ShrinkPad numbers depend on: the backdoored model and the test sets, not REFINE. */
function baselineKey(r: AttackResult): string {
  const s = r.config.seeds;
  return configHash({
    attack: r.attack,
    dataset: r.dataset,
    classifier: r.config.classifier,
    target: r.config.target,
    attackParams: r.config.attackParams,
    evalSubset: r.config.evalSubset,
    pad: r.config.shrinkPadPad,
    testImages: r.data.testImages,
    asrImages: r.data.asrImages,
    seeds: [s.evalSubset, s.shrinkPadClean, s.shrinkPadPoisoned],
    // the same model file gives the same test accuracy; a retrained one (another machine) need not
    modelBA: r.backdoor?.trainBA ?? null,
  });
}

/** ... and the augmentation check on REFINE's unlabeled images, additionally on REFINE's data and augmentation. */
function augmentationKey(r: AttackResult): string {
  return configHash({ base: baselineKey(r), augment: r.config.refine.augment, refineImages: r.data.refineImages, trainSubset: r.config.refine.trainSubset ?? null, seeds: [r.config.seeds.refineSubset, r.config.seeds.augmentationCheck ?? null] });
}

/**
 * Copies No Defense, ShrinkPad and the augmentation check into `r` from a result.json of the same
 * attack in another results folder under `roots` that measured them on the same backdoored model
 * and test sets. Returns the folder they came from, or null.
 */
export function reuseBaselines(r: AttackResult, roots: string[], ownDir: string): string | null {
  const key = baselineKey(r);
  const augKey = augmentationKey(r);
  for (const root of roots) {
    let entries: string[];
    try {
      entries = readdirSync(root);
    } catch {
      continue;
    }
    for (const e of entries.sort()) {
      const dir = join(root, e, r.attack);
      if (resolve(dir) === resolve(ownDir)) continue;
      const other = readJson<AttackResult>(join(dir, 'result.json'));
      if (!other?.evaluation?.noDefense || !other.evaluation.shrinkPad || !other.config || baselineKey(other) !== key) continue;
      r.evaluation.noDefense = other.evaluation.noDefense;
      r.evaluation.shrinkPad = other.evaluation.shrinkPad;
      if (other.diagnostics?.augmentation && augmentationKey(other) === augKey) r.diagnostics = { ...r.diagnostics, augmentation: other.diagnostics.augmentation };
      r.baselinesFrom = dir;
      return dir;
    }
  }
  return null;
}

