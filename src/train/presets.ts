/**
 * Training presets. `paper`: the spec's protocol (§2.3) for a real GPU. `quick`: sized from
 * measurements to finish on a 2-core machine with lavapipe (see README, "Presets").
 */
import type { TrainConfig } from './trainer.js';

export type PresetName = 'quick' | 'paper';

export interface ClassifierPreset extends TrainConfig {
  /** ResNet-18 width multiplier */
  width: number;
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

const quick: ClassifierPreset = {
  ...paper,
  epochs: 4,
  milestones: [3],
  width: 0.25,
};

export function classifierPreset(name: string): ClassifierPreset {
  if (name === 'paper') return { ...paper };
  if (name === 'quick') return { ...quick };
  throw new Error(`unknown preset '${name}' (quick | paper)`);
}
