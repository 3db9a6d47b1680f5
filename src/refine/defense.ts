/**
 * REFINE in Node: training resumable from a run folder (the training itself: train.ts) and
 * defended-model folders (the UNet's weights and the mapping).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Module } from '../nn/module.js';
import type { ImageDataset } from '../data/dataset.js';
import { writeFileAtomic } from '../util/files.js';
import { Progress } from '../util/progress.js';
import { folderStore, type RunFiles } from '../train/resume.js';
import { DefendedModel } from './defended.js';
import { trainRefine as train, type RefineConfig, type RefineOptions } from './train.js';

export { defendedAccuracy, type RefineConfig, type RefineEpochLog, type RefineOptions, type RefineStepLog } from './train.js';

/** Checkpoint files of a REFINE run (UNet, momentum, state). */
const REFINE_FILES: RunFiles = { model: 'unet-last.safetensors', optimizer: 'unet-last-optimizer.safetensors', state: 'refine-state.json' };

/** Removes the checkpoint files of a REFINE run from `dir` (its next trainRefine starts from scratch). */
export function clearRefineRun(dir: string): void {
  for (const f of [REFINE_FILES.model, REFINE_FILES.optimizer, REFINE_FILES.state]) rmSync(join(dir, f), { force: true });
}

/**
 * trainRefine (train.ts) with a progress bar, checkpointing into the run folder `outDir` when
 * given: the state after every epoch and every few minutes inside one; a rerun with the same
 * folder resumes exactly.
 */
export function trainRefine(classifier: Module, data: ImageDataset, cfg: RefineConfig, opts: RefineOptions & { outDir?: string }): ReturnType<typeof train> {
  const { outDir, ...rest } = opts;
  return train(classifier, data, cfg, { progress: (label, total) => new Progress(label, total), ...rest, store: outDir ? folderStore(outDir, REFINE_FILES) : rest.store });
}

/** Writes the defended model's UNet (unet.safetensors) and mapping (mapping.json) into `dir`, atomically. */
export async function saveDefended(defended: DefendedModel, dir: string, metadata: Record<string, string> = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const { unet, mapping } = await defended.toBytes(metadata);
  writeFileAtomic(join(dir, 'unet.safetensors'), unet);
  writeFileAtomic(join(dir, 'mapping.json'), mapping);
}

/** The defended model saved in `dir` by saveDefended, in front of `classifier`. */
export function loadDefendedModel(dir: string, classifier: Module, unetOpts: { firstChannels: number; channels: number }): DefendedModel {
  const mapping = join(dir, 'mapping.json');
  if (!existsSync(mapping)) throw new Error(`${dir}: no mapping.json (not a defended-model folder)`);
  const unet = join(dir, 'unet.safetensors');
  if (!existsSync(unet)) throw new Error(`${dir}: no unet.safetensors (not a defended-model folder)`);
  return DefendedModel.fromBytes(classifier, readFileSync(unet), readFileSync(mapping, 'utf8'), unetOpts, dir);
}
