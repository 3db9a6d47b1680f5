/**
 * The black-box experiment (Table 11) end to end on tiny data: a ResNet-50 black box of the same
 * attack, its answers queried once (kept in teacher.f32), a distilled ResNet-18 surrogate, REFINE
 * against it deployed in front of the black box, the queries counted, a rerun reported without
 * recomputing, and the section rendered.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifierPreset } from '../../src/train/presets.js';
import { refinePreset, withRefineOverrides } from '../../src/pipeline/refine-presets.js';
import type { ReproduceOptions } from '../../src/pipeline/reproduce.js';
import { blackBoxExperiment, readBlackBoxResults, renderBlackBoxSection } from '../../src/pipeline/blackbox-experiment.js';
import { synthetic } from '../attacks/synthetic.js';

const tmp = mkdtempSync(join(tmpdir(), 'blackbox-'));
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
};

test('black-box REFINE on tiny data: every row, the queries, resumable, rendered', async () => {
  const r = await blackBoxExperiment(opts, data, { distillEpochs: 1 });
  assert.is(r.status, 'complete');
  for (const m of [r.noDefenseBlackBox!, r.noDefenseSurrogate!, r.refineSurrogate!, r.refineBlackBox!]) assert.ok(m.BA >= 0 && m.BA <= 1 && m.ASR >= 0 && m.ASR <= 1);
  assert.is(r.queries.distill, 16, 'one query per unlabeled image');
  assert.ok(r.queries.evaluation! >= 20, `evaluation queries ${r.queries.evaluation}`);
  assert.ok(r.blackBoxDir!.startsWith(join(tmp, 'runs')) && existsSync(join(r.blackBoxDir!, 'model.safetensors')));
  const dir = join(tmp, 'results', 'badnets', 'blackbox');
  assert.is(readFileSync(join(dir, 'teacher.f32')).length, 16 * 4 * 4);
  const before = readFileSync(join(dir, 'blackbox.json'), 'utf8');
  assert.equal(await blackBoxExperiment(opts, data, { distillEpochs: 1 }), r);
  assert.is(readFileSync(join(dir, 'blackbox.json'), 'utf8'), before);
  const md = renderBlackBoxSection(readBlackBoxResults(opts.outRoot, ['badnets']));
  assert.match(md, /## Black-box REFINE \(Table 11\)/);
  assert.match(md, /\| badnets \| \d+\.\d\d\/\d+\.\d\d \|.* \| 16 \+ \d+ \|/);
});

test.run();
