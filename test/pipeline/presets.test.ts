import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { completeGuard, defaultRefinePreset, describeGuard, guardDecision, guardedConfig, lacksGuardProbe, refineMilestones, refinePreset, shrinkPadFor, withRefineOverrides } from '../../src/pipeline/refine-presets.js';
import { compareLabels, type AugmentationCheck } from '../../src/refine/diagnostics.js';
import { lrAt } from '../../src/nn/optim.js';

test('ShrinkPad pad scales with the image size: 4 at 32 px', () => {
  assert.is(shrinkPadFor(32), 4);
  assert.is(shrinkPadFor(28), 4);
  assert.is(shrinkPadFor(16), 2);
  assert.is(shrinkPadFor(224), 28);
  assert.is(shrinkPadFor(4), 1, 'at least 1');
});

test('REFINE milestones: [epochs−50, epochs−20], unreachable negative ones dropped', () => {
  assert.equal(refineMilestones(150), [100, 130]);
  assert.equal(refineMilestones(30), [10]);
  assert.equal(refineMilestones(10), []);
  const p = refinePreset('paper', { h: 32, w: 32, c: 3 });
  assert.is(lrAt(p, 99), 0.01);
  assert.ok(Math.abs(lrAt(p, 100) - 0.008) < 1e-12);
  assert.ok(Math.abs(lrAt(p, 149) - 0.0064) < 1e-12);
});

test('presets: paper = official values, c by image size; quick is smaller; overrides', () => {
  const p = refinePreset('paper', { h: 32, w: 32, c: 3 });
  assert.equal([p.epochs, p.batchSize, p.lr, p.momentum, p.weightDecay, p.gamma, p.lambda, p.temperature, p.unetChannels, p.utility, p.dropLast], [150, 256, 0.01, 0.9, 5e-4, 0.8, 0.1, 0.07, 64, 'bce', true]);
  assert.equal(p.augment, { resizedCrop: { scale: [0.8, 1] }, flip: 0.5, grayscale: 0.2 });
  assert.is(p.trainSubset, undefined);
  const im = refinePreset('paper', { h: 224, w: 224, c: 3 });
  assert.equal([im.unetChannels, im.batchSize], [32, 64]);
  const q = refinePreset('quick', { h: 28, w: 28, c: 1 });
  assert.equal([q.unetChannels, q.batchSize, q.trainSubset, q.lr], [16, 128, 10000, 0.05]);
  assert.is(withRefineOverrides(q, { lr: 0.01 }).lr, 0.01);
  const o = withRefineOverrides(p, { epochs: 60, trainSubset: 5 });
  assert.equal([o.milestones, o.trainSubset], [[10, 40], 5]);
  // explicit milestones replace the formula's (sorted), whatever the order of the overrides
  const m = withRefineOverrides(q, { epochs: 8, milestones: [7, 4], gamma: 0.1 });
  assert.equal([m.epochs, m.milestones, m.gamma], [8, [4, 7], 0.1]);
  assert.ok(Math.abs(lrAt(m, 3) - 0.05) < 1e-12 && Math.abs(lrAt(m, 4) - 0.005) < 1e-12 && Math.abs(lrAt(m, 7) - 0.0005) < 1e-12);
  assert.throws(() => withRefineOverrides(q, { milestones: [5] }), /milestones must be epochs 1\.\.4/);
  assert.throws(() => withRefineOverrides(q, { milestones: [0] }), /milestones/);
  assert.throws(() => withRefineOverrides(q, { gamma: 0 }), /gamma/);
  // pseudo-labels: 'plain' is recorded; 'augmented' (official) stays unset so earlier hashes hold
  assert.is(withRefineOverrides(q, { pseudoLabels: 'plain' }).pseudoLabels, 'plain');
  assert.not.ok('pseudoLabels' in withRefineOverrides(q, { pseudoLabels: 'augmented' }));
  assert.not.ok('pseudoLabels' in q);
  assert.throws(() => withRefineOverrides(q, { pseudoLabels: 'x' as 'plain' }), /pseudo-labels must be augmented or plain/);
  assert.throws(() => withRefineOverrides(q, { gamma: 1.5 }), /gamma/);
  assert.throws(() => refinePreset('fast', { h: 32, w: 32, c: 3 }), /unknown REFINE preset 'fast' \(budget \| quick \| paper\)/);
});

test('budget preset: quick with twice the steps under a one-cycle schedule; the default beside quick', () => {
  const q = refinePreset('quick', { h: 28, w: 28, c: 1 });
  const b = refinePreset('budget', { h: 28, w: 28, c: 1 });
  assert.equal([b.epochs, b.lr, b.milestones, b.schedule?.kind, b.unetChannels, b.batchSize, b.trainSubset], [13, 0.1, [], 'onecycle', 16, 128, 10000]);
  assert.is(b.augmentationGuard, true);
  assert.is(b.renormalize, true);
  assert.not.ok('schedule' in q, 'quick keeps the official schedule (and its configuration hash)');
  assert.not.ok('augmentationGuard' in q);
  assert.is(defaultRefinePreset('quick'), 'budget');
  assert.is(defaultRefinePreset('paper'), 'paper');
  // the schedule can be switched either way; milestones only make sense for multistep
  const m = withRefineOverrides(b, { schedule: 'multistep' });
  assert.equal([m.schedule, m.milestones], [undefined, []]);
  const o = withRefineOverrides(q, { schedule: 'onecycle', epochs: 20 });
  assert.equal([o.schedule?.kind, o.milestones, o.epochs], ['onecycle', [], 20]);
  assert.throws(() => withRefineOverrides(b, { milestones: [3] }), /multistep schedule, not to onecycle/);
  assert.throws(() => withRefineOverrides(b, { schedule: 'cosine' as 'onecycle' }), /onecycle or multistep/);
  // on/off switches: off removes the key (the official behaviour, earlier hashes), on sets it
  assert.is(withRefineOverrides(q, { renormalize: true }).renormalize, true);
  assert.not.ok('renormalize' in withRefineOverrides({ ...q, renormalize: true }, { renormalize: false }));
  assert.not.ok('augmentationGuard' in withRefineOverrides(b, { augmentationGuard: false }));
  assert.is(withRefineOverrides(q, { augmentationGuard: true }).augmentationGuard, true);
  // the guard's remedy for the crop check: pseudo-labels from the un-augmented images and no resized crop, nothing else changed
  const g = guardedConfig(b, { crop: true, photometric: false });
  assert.is(g.pseudoLabels, 'plain');
  assert.equal(g.augment, { flip: 0.5, grayscale: 0.2 });
  assert.equal(b.augment, { resizedCrop: { scale: [0.8, 1] }, flip: 0.5, grayscale: 0.2 }, 'the preset itself is not modified');
  assert.equal({ ...g, pseudoLabels: undefined, augment: undefined }, { ...b, pseudoLabels: undefined, augment: undefined });
  // for the photometric check: plain pseudo-labels and the probe's jitter added, the crop kept
  const p = guardedConfig(b, { crop: false, photometric: true });
  assert.is(p.pseudoLabels, 'plain');
  assert.equal(p.augment, { resizedCrop: { scale: [0.8, 1] }, flip: 0.5, grayscale: 0.2, colorJitter: { brightness: 0.3, contrast: 0.3 } });
  assert.equal(guardedConfig(b, { crop: true, photometric: true }).augment, { flip: 0.5, grayscale: 0.2, colorJitter: { brightness: 0.3, contrast: 0.3 } });
  // neither: the very same configuration (its hash, and the folders of earlier runs, unchanged)
  assert.is(guardedConfig(b, { crop: false, photometric: false }), b);
  assert.is(describeGuard({ crop: false, photometric: false }), 'not needed');
  assert.match(describeGuard({ crop: true, photometric: true }), /un-augmented images, no resized crop, brightness\/contrast jitter/);
});

test('the guard\'s rotation probe: its check fires on a rotation trigger\'s pattern, its remedy trains with rotations', () => {
  const b = refinePreset('budget', { h: 28, w: 28, c: 1 }, 1);
  // for the rotation check: plain pseudo-labels and RandomRotation(20) on a quarter of the images added, the crop kept
  const r = guardedConfig(b, { crop: false, photometric: false, rotation: true });
  assert.is(r.pseudoLabels, 'plain');
  assert.equal(r.augment, { resizedCrop: { scale: [0.8, 1] }, flip: 0.5, grayscale: 0.2, rotation: { degrees: 20, p: 0.25 } });
  assert.equal(guardedConfig(b, { crop: false, photometric: true, rotation: true }).augment, { resizedCrop: { scale: [0.8, 1] }, flip: 0.5, grayscale: 0.2, colorJitter: { brightness: 0.3, contrast: 0.3 }, rotation: { degrees: 20, p: 0.25 } });
  assert.match(describeGuard({ crop: false, photometric: false, rotation: true }), /un-augmented images, random rotation ±20° on a quarter of the images$/);
  // a decision stored before the rotation probe (no `rotation` key) reads as not fired
  assert.is(guardedConfig(b, { crop: false, photometric: false }), b);

  // checks built from labels: 100 images of 10 classes; 30 of them move to class 3 (BATT-like) or scatter
  const plain = Array.from({ length: 100 }, (_, i) => i % 10);
  const check = (moved: number[]): AugmentationCheck => ({ images: 100, augment: {}, ...compareLabels(plain, moved, 10) });
  const onto3 = check(plain.map((y, i) => (i < 30 && y !== 3 ? 3 : y)));
  const scattered = check(plain.map((y, i) => (i < 30 ? (y + 1 + (i % 9)) % 10 : y)));
  const augmentation = check(plain);
  assert.equal(guardDecision({ augmentationGuard: true }, { augmentation, photometric: scattered, rotation: onto3 }), { crop: false, photometric: false, rotation: true });
  assert.equal(guardDecision({ augmentationGuard: true }, { augmentation: onto3, photometric: scattered, rotation: scattered }), { crop: true, photometric: false, rotation: false });
  // a warp-triggered backdoor (WaNet) answers every resampling: where the crop check fired, the rotation probe does not count
  assert.equal(guardDecision({ augmentationGuard: true }, { augmentation: onto3, photometric: onto3, rotation: onto3 }), { crop: true, photometric: true, rotation: false });
  // the guard off: nothing fires, whatever the checks say
  assert.equal(guardDecision({}, { augmentation: onto3, photometric: onto3, rotation: onto3 }), { crop: false, photometric: false, rotation: false });
  // results written before a probe existed lack its check, and get it on the next run
  assert.ok(lacksGuardProbe({ augmentation, photometric: scattered }));
  assert.ok(lacksGuardProbe(undefined));
  assert.not.ok(lacksGuardProbe({ augmentation, photometric: scattered, rotation: scattered }));
});

test('completeGuard: a stored record with every check is kept as it is (nothing runs on the model)', async () => {
  const plain = Array.from({ length: 100 }, (_, i) => i % 10);
  const augmentation: AugmentationCheck = { images: 100, augment: {}, ...compareLabels(plain, plain, 10) };
  const prev = { checks: { augmentation, photometric: augmentation, rotation: augmentation }, decision: { crop: false, photometric: true, rotation: false } };
  const untouchable = new Proxy({}, { get: () => { throw new Error('the model was used'); } }) as Parameters<typeof completeGuard>[1];
  const cfg = refinePreset('budget', { h: 28, w: 28, c: 1 }, 1);
  assert.is(await completeGuard(prev, untouchable, {} as Parameters<typeof completeGuard>[2], cfg, null, 1), prev);
  // a record lacking a probe runs it (here on the untouchable model, so the run shows)
  const err = await completeGuard({ ...prev, checks: { augmentation, photometric: augmentation } }, untouchable, {} as Parameters<typeof completeGuard>[2], cfg, null, 1).then(() => null, (e: Error) => e);
  assert.match(String(err?.message), /the model was used/);
});

test.run();
