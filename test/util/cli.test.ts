import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { attackFlags, modelFiles, normalizationFlags, num, numList } from '../../src/util/cli.js';
import { classifierFlags } from '../../src/train/classifier-flags.js';
import { classifierPreset, withClassifierOverrides } from '../../src/train/presets.js';
import { configHash } from '../../src/train/trainer.js';
import { lrAt } from '../../src/nn/optim.js';

test('num: kinds, absent flag, and the error names the flag', () => {
  assert.is(num('epochs', undefined, 'int'), undefined);
  assert.is(num('epochs', '3', 'int'), 3);
  assert.is(num('seed', '0', 'nonneg-int'), 0);
  assert.is(num('rate', '0.1', 'rate'), 0.1);
  assert.throws(() => num('epochs', '0', 'int'), /--epochs must be a positive integer, got '0'/);
  assert.throws(() => num('epochs', '2.5', 'int'), /positive integer/);
  assert.throws(() => num('rate', '1.5', 'rate'), /--rate must be a number in \[0, 1\]/);
  assert.throws(() => num('lr', '', 'pos'), /--lr must be a positive number/);
});

test('modelFiles: at least one, each must exist', () => {
  assert.equal(modelFiles(['package.json']), ['package.json']);
  assert.throws(() => modelFiles([]), /give at least one model file/);
  assert.throws(() => modelFiles(['package.json', 'no/such.safetensors']), /no such model file: no\/such.safetensors/);
});

test('normalizationFlags: both or neither, one value per channel, finite, std > 0', () => {
  assert.is(normalizationFlags({}, 1), undefined);
  assert.equal(normalizationFlags({ mean: '0.286', std: '0.353' }, 1), { mean: [0.286], std: [0.353] });
  assert.equal(normalizationFlags({ mean: '0.5,0.4,0.3', std: '0.2,0.2,0.2' }, 3), { mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.2] });
  assert.throws(() => normalizationFlags({ mean: '0.5' }, 1), /--mean and --std need 1 value\(s\) each/);
  assert.throws(() => normalizationFlags({ mean: '0.5', std: '0.2' }, 3), /--mean and --std need 3 value\(s\) each/);
  assert.throws(() => normalizationFlags({ mean: 'a', std: '0.2' }, 1), /--mean must be comma-separated numbers, got 'a'/);
  assert.throws(() => normalizationFlags({ mean: '0.5', std: '0' }, 1), /--std values must be positive, got 0/);
});

test('numList: comma lists, each element checked', () => {
  assert.is(numList('milestones', undefined, 'int'), undefined);
  assert.equal(numList('milestones', '4, 7', 'int'), [4, 7]);
  assert.throws(() => numList('milestones', '4,', 'int'), /--milestones must be a positive integer, got ''/);
  assert.throws(() => numList('milestones', '4,x', 'int'), /got 'x'/);
});

test('classifier overrides: none keeps the preset (and its hash); milestones and gamma checked', () => {
  const q = classifierPreset('quick');
  const same = withClassifierOverrides(q, classifierFlags({}));
  assert.equal(same, q);
  assert.is(configHash(same), configHash(q), 'no flag, same run folders as before the flags existed');
  // --epochs alone keeps the preset's milestones (runs trained so keep their hashes)
  assert.equal(withClassifierOverrides(q, classifierFlags({ epochs: '6' })).milestones, [2]);
  const o = withClassifierOverrides(q, classifierFlags({ epochs: '6', milestones: '5,4', gamma: '0.2', lr: '0.05', subset: '100', seed: '0', width: '0.5', 'batch-size': '64' }));
  assert.equal([o.epochs, o.milestones, o.gamma, o.lr, o.trainSubset, o.seed, o.width, o.batchSize], [6, [4, 5], 0.2, 0.05, 100, 0, 0.5, 64]);
  assert.ok(Math.abs(lrAt(o, 3) - 0.05) < 1e-12 && Math.abs(lrAt(o, 4) - 0.01) < 1e-12 && Math.abs(lrAt(o, 5) - 0.002) < 1e-12);
  assert.equal(q.milestones, [2], 'the preset object is not changed');
  assert.throws(() => withClassifierOverrides(q, { milestones: [3] }), /classifier milestones must be epochs 1\.\.2/);
  assert.throws(() => withClassifierOverrides(q, { milestones: [0] }), /milestones/);
  assert.throws(() => withClassifierOverrides(q, { gamma: 1.5 }), /gamma must be in \(0, 1\]/);
  assert.throws(() => classifierFlags({ milestones: '2.5' }), /--milestones must be a positive integer/);
  // --depth is a word on the command line and a number in the preset
  assert.equal(classifierFlags({ depth: '50' }).depth, 50);
  assert.throws(() => classifierFlags({ depth: '34' }), /--depth must be 18 or 50, got '34'/);
});

test('attackFlags: each flag only for its attack, values checked, key order fixed', () => {
  assert.equal(attackFlags('badnets', {}), {});
  assert.equal(attackFlags('badnets', { rate: '0.2' }), { rate: 0.2 });
  // Adaptive-Patch's --rate is its poison rate; the keys in the order the run-folder hash saw them
  assert.is(JSON.stringify(attackFlags('adaptive', { 'cover-rate': '0.06', rate: '0.03' })), '{"poisonRate":0.03,"coverRate":0.06}');
  assert.equal(attackFlags('wanet', { 'wanet-k': '4', 'wanet-noise': true }), { k: 4, noise: true });
  assert.equal(attackFlags('lc', { 'pgd-steps': '0' }), { steps: 0 });
  assert.throws(() => attackFlags('badnets', { 'cover-rate': '0.1' }), /--cover-rate applies to adaptive only, not badnets/);
  assert.throws(() => attackFlags('blended', { 'pgd-steps': '3' }), /--pgd-steps applies to lc only/);
  assert.throws(() => attackFlags('wanet', { rate: '1.5' }), /--rate must be a number in \[0, 1\], got '1.5'/);
  assert.throws(() => attackFlags('wanet', { 'wanet-k': '0' }), /--wanet-k must be a positive integer/);
});

test.run();
