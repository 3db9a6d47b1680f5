/**
 * Training presets. `paper`: the official code's recipe (docs/engine.md, "Presets and measured
 * results") for a real GPU. `quick`: sized from measurements to finish on a 2-core machine with
 * lavapipe (see README, "Presets").
 */
import { checkedGamma, checkedMilestones } from '../nn/optim.js';
import { assignDefined } from '../util/overrides.js';
import type { TrainConfig } from './trainer.js';
import type { ClassifierOverrides } from './classifier-flags.js';

export type PresetName = 'quick' | 'paper';

export interface ClassifierPreset extends TrainConfig {
  /** ResNet width multiplier */
  width: number;
  /** ResNet-50 when 50; ResNet-18 when unset (the paper's classifiers; unset keeps the run folders' hashes) */
  depth?: 18 | 50;
  /** train on this many images (a seeded random subset), all when undefined */
  trainSubset?: number;
}

const paper: ClassifierPreset = {
  epochs: 150,
  batchSize: 128,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  milestones: [100, 130],
  gamma: 0.1,
  augment: { flip: 0.5 },
  seed: 666,
  width: 1,
};

/**
 * Measured on the 2-core lavapipe machine: ResNet-18 ×0.25 (16-32-64-128 channels, every conv
 * on the subgroup kernels) trains at ~50-60 images/s on 28×28 grey images. 2 epochs over a
 * 30,000-image subset (20 min) reached 88.8% on Fashion-MNIST, short of the 90% goal, so the
 * preset uses all 60,000 images for 3 epochs (lr 0.1, 0.1, 0.01): 91.74% in 48 min (README).
 */
const quick: ClassifierPreset = {
  ...paper,
  epochs: 3,
  milestones: [2],
  width: 0.25,
};

/**
 * Applies overrides. The milestones stay the preset's when only the epoch count changes (quick's
 * [2] then keeps epochs 2.. at lr 0.01, paper's [100, 130] are never reached by a short run):
 * earlier runs with --epochs were trained so, and their folders' hashes must not change. Given
 * milestones must lie inside the run (1 ≤ m < epochs: a change of lr during training).
 */
export function withClassifierOverrides(p: ClassifierPreset, o: ClassifierOverrides): ClassifierPreset {
  const out = assignDefined<ClassifierPreset>({ ...p }, o, ['epochs', 'batchSize', 'lr', 'width', 'trainSubset', 'seed']);
  if (o.milestones !== undefined) out.milestones = checkedMilestones('classifier', o.milestones, out.epochs);
  if (o.gamma !== undefined) out.gamma = checkedGamma('classifier', o.gamma);
  if (o.depth === 50) out.depth = 50; // 18 is the default and stays unset (the same folder as before)
  return out;
}

export function classifierPreset(name: string): ClassifierPreset {
  if (name === 'paper') return { ...paper };
  if (name === 'quick') return { ...quick };
  throw new Error(`unknown preset '${name}' (quick | paper)`);
}
