/** The folder names the committed results depend on (src/pipeline/run-folders.ts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { classifierPreset } from '../../src/train/presets.js';
import { adaptiveDir, attackDir, backdoorRunDir, benignRunDir, blackboxDir, COMMITTED_BACKDOORS, datasetTag, figureFiles, resultsRoot, trainRunDir, VARIANT_DIRS } from '../../src/pipeline/run-folders.js';

const quick = classifierPreset('quick');
const spec = (attack: string, extra = {}) => ({ attack, dataset: 'fashion-mnist', presetName: 'quick', preset: quick, target: 0, ...extra });

test('backdoored runs: the default configuration is named without a hash, and its committed folder exists', () => {
  for (const a of ['badnets', 'blended', 'wanet', 'physicalba', 'batt', 'lc', 'adaptive']) {
    const dir = backdoorRunDir(spec(a));
    assert.is(dir, join('runs', `attack-${a}-fashion-mnist-quick-s666`));
    assert.ok(existsSync(join(COMMITTED_BACKDOORS, basename(dir), 'model.safetensors')), `${dir} committed`);
  }
  // any override (target, options, preset values, LC's initialisation) adds 8 hex digits of the configuration
  assert.match(backdoorRunDir(spec('badnets', { target: 3 })), /^runs\/attack-badnets-fashion-mnist-quick-s666-[0-9a-f]{8}$/);
  assert.match(backdoorRunDir(spec('badnets', { attackOptions: { rate: 0.05 } })), /-[0-9a-f]{8}$/);
  assert.match(backdoorRunDir(spec('badnets', { preset: { ...quick, epochs: 5 } })), /-[0-9a-f]{8}$/);
  assert.is(backdoorRunDir(spec('badnets', { attackOptions: { rate: undefined } })), join('runs', 'attack-badnets-fashion-mnist-quick-s666'));
  assert.is(backdoorRunDir(spec('badnets', { preset: { ...quick, seed: 1 } })), join('runs', 'attack-badnets-fashion-mnist-quick-s1'));
  assert.is.not(backdoorRunDir(spec('lc', { lcInit: 'scratch' })), backdoorRunDir(spec('lc')));
  assert.is(backdoorRunDir(spec('badnets'), COMMITTED_BACKDOORS), join(COMMITTED_BACKDOORS, 'attack-badnets-fashion-mnist-quick-s666'));
});

test('the other runs and results folders', () => {
  assert.is(datasetTag('folder:my/images'), 'folder_my_images');
  assert.is(trainRunDir('cifar10', 'paper', 7), join('runs', 'train-cifar10-paper-s7'));
  assert.is(benignRunDir('fashion-mnist', 'quick', 666, '20da2d6bffff'), join('runs', 'benign-fashion-mnist-quick-s666-20da2d6b'));
  assert.ok(existsSync(join(COMMITTED_BACKDOORS, 'benign-fashion-mnist-quick-s666-20da2d6b')));
  assert.is(resultsRoot('fashion-mnist', 'quick', 'budget'), join('results', 'fashion-mnist-quick-budget'));
  assert.is(resultsRoot('fashion-mnist', 'quick', 'quick'), join('results', 'fashion-mnist-quick'));
  for (const dir of [resultsRoot('fashion-mnist', 'quick', 'budget'), resultsRoot('fashion-mnist', 'quick', 'quick')]) assert.ok(existsSync(join(dir, 'results.md')), dir);
  assert.is(attackDir('results/x', 'wanet'), join('results/x', 'wanet'));
  assert.is(adaptiveDir('results/x', 'badnets'), join('results/x', 'badnets', 'adaptive'));
  assert.is(blackboxDir('results/x', 'badnets'), join('results/x', 'badnets', 'blackbox'));
  assert.equal(VARIANT_DIRS, { refine: 'refine', woHRF: 'ablation-wo-hrf', woSCL: 'ablation-wo-scl' });
  assert.equal(figureFiles('results/fashion-mnist-quick-budget', 'badnets'), [join('results/fashion-mnist-quick-budget/badnets/figures', 'samples.svg'), join('results/fashion-mnist-quick-budget/badnets/figures', 'curves.svg')]);
});

test.run();
