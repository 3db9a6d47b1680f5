/** A tiny reproduction set-up (synthetic 16×16 grey images, 4 classes) for the pipeline tests. */
import { join } from 'node:path';
import { classifierPreset } from '../../src/train/presets.js';
import { refinePreset, withRefineOverrides } from '../../src/pipeline/refine-presets.js';
import type { ReproduceOptions } from '../../src/pipeline/reproduce.js';
import { synthetic } from '../attacks/synthetic.js';

/** Options writing under `tmp` (results/, runs/) and the data of a BadNets run; `extra` overrides options. */
export function tinyReproduce(tmp: string, extra: Partial<ReproduceOptions> = {}) {
  const train = synthetic(32, 16, 16, 1, 1, 4);
  const data = { train, fullTrain: train, test: synthetic(20, 16, 16, 1, 2, 4), normalization: { mean: [0.5], std: [0.25] } };
  const opts: ReproduceOptions = {
    attack: 'badnets',
    dataset: 'synthetic',
    preset: 'quick',
    classifier: { ...classifierPreset('quick'), epochs: 1, milestones: [], width: 0.0625, batchSize: 16, trainSubset: undefined },
    refine: withRefineOverrides(refinePreset('quick', { h: 16, w: 16, c: 1 }), { epochs: 1, trainSubset: 16, batchSize: 8, unetChannels: 4 }),
    outRoot: join(tmp, 'results'),
    runsRoot: join(tmp, 'runs'),
    ablations: false,
    curveEval: 0,
    engine: { name: 'refine-gpu', version: 'test' },
    adapter: 'test',
    quiet: true,
    log: () => {},
    ...extra,
  };
  return { data, opts };
}
