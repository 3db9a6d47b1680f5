import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { augmentationCheck, augmentationFiresBackdoor, augmentedCopy, compareLabels } from '../../src/refine/diagnostics.js';
import { flipH } from '../../src/data/augment.js';
import { ResNet18 } from '../../src/nn/resnet.js';
import { predict } from '../../src/train/evaluate.js';
import { seededSubset, subset } from '../../src/data/dataset.js';
import { equalBytes, imageBytes, synthetic } from '../attacks/synthetic.js';

// The check of whether REFINE's augmentation fires a backdoor (changes pseudo-labels, piling
// them onto one class): the counting, the augmented copy, and the check end to end on a model.

test('compareLabels: changed share, where the changes go, class shares', () => {
  const c = compareLabels([0, 1, 2, 3, 1], [0, 0, 2, 0, 1], 4);
  assert.ok(Math.abs(c.changed - 0.4) < 1e-12);
  assert.is(c.topChangedTo, 0);
  assert.is(c.topChangedToShare, 1);
  assert.equal(c.plainShares.map((v) => +v.toFixed(6)), [0.2, 0.4, 0.2, 0.2]);
  assert.equal(c.augmentedShares.map((v) => +v.toFixed(6)), [0.6, 0.2, 0.2, 0]);
  assert.is(c.maxShareRiseClass, 0);
  assert.ok(Math.abs(c.maxShareRise - 0.4) < 1e-12);
  const same = compareLabels([2, 2, 1], [2, 2, 1], 3);
  assert.equal([same.changed, same.topChangedToShare, same.maxShareRise], [0, 0, 0]);
  assert.throws(() => compareLabels([1, 2], [1], 3), /2 plain vs 1 augmented/);
});

test('augmentedCopy: no transform is the identity, flip(p=1) flips every image; seeded', () => {
  const ds = synthetic(7, 9, 11, 3, 5);
  const none = augmentedCopy(ds, {}, 1);
  assert.ok(equalBytes(none.images, ds.images));
  const flipped = augmentedCopy(ds, { flip: 1 }, 1, 4);
  assert.is(flipped.n, 4);
  for (let i = 0; i < 4; i++) assert.ok(equalBytes(imageBytes(flipped, i), flipH({ data: imageBytes(ds, i), h: 9, w: 11, c: 3 }).data), `image ${i}`);
  const spec = { resizedCrop: { scale: [0.8, 1] as [number, number] }, flip: 0.5, grayscale: 0.2 };
  assert.ok(equalBytes(augmentedCopy(ds, spec, 3).images, augmentedCopy(ds, spec, 3).images));
  assert.not.ok(equalBytes(augmentedCopy(ds, spec, 3).images, ds.images));
});

test('augmentationCheck: counts the pseudo-labels the augmentation changes on a real model', async () => {
  const ds = synthetic(40, 12, 12, 1, 9, 4);
  const model = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 3, stem: 'cifar' });
  const normalization = { mean: [0.5], std: [0.25] };
  const none = await augmentationCheck(model, ds, {}, normalization, 30);
  assert.is(none.images, 30);
  assert.is(none.changed, 0);
  assert.equal(none.plainShares, none.augmentedShares);
  // flip(p=1): the changed share is exactly the share of images whose prediction differs from their mirror image's
  const flip = await augmentationCheck(model, ds, { flip: 1 }, normalization, 30);
  // (the check draws its 30 images with its seed, 1 by default)
  const sample = seededSubset(ds, 30, 1);
  const plain = await predict(model, sample, { normalization });
  const mirrored = await predict(model, augmentedCopy(sample, { flip: 1 }, 0), { normalization });
  const expected = plain.filter((p, i) => p !== mirrored[i]).length / 30;
  assert.ok(expected > 0, "the mirror images change some predictions (else the check below proves little)");
  assert.ok(Math.abs(flip.changed - expected) < 1e-12, `${flip.changed} vs ${expected}`);
  model.dispose();
});

test('augmentationCheck draws its images across the whole set, not the first n (a folder is read class by class)', async () => {
  // a class-sorted set: 100 black images, then 100 white ones
  const n = 200;
  const px = 8 * 8;
  const images = new Uint8Array(n * px);
  images.fill(255, (n / 2) * px);
  const ds = { name: 'sorted', images, labels: Uint8Array.from({ length: n }, (_, i) => (i < n / 2 ? 0 : 1)), n, h: 8, w: 8, c: 1, classes: ['a', 'b', 'c', 'd'] };
  // (a tiny random model that happens to give black and white images different classes)
  const model = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 3, stem: 'cifar' });
  const normalization = { mean: [0.5], std: [0.25] };
  const [black, white] = await predict(model, subset(ds, [0, n - 1]), { normalization });
  assert.ok(black !== white, 'the model tells black from white (else the check below proves nothing)');
  const c = await augmentationCheck(model, ds, {}, normalization, 50);
  assert.is(c.images, 50);
  // the first 50 images would all be black: one class at 100%
  assert.ok(c.plainShares[black!]! > 0.2 && c.plainShares[white!]! > 0.2, `shares ${c.plainShares}`);
  model.dispose();
});

test('augmentationFiresBackdoor: one class pulled up by ≥ 10 points and receiving most changes', () => {
  // the committed Fashion-MNIST checks: WaNet fires, BadNets and PhysicalBA do not
  assert.ok(augmentationFiresBackdoor({ maxShareRise: 0.373, maxShareRiseClass: 0, topChangedTo: 0, topChangedToShare: 0.901 }));
  assert.not.ok(augmentationFiresBackdoor({ maxShareRise: 0.022, maxShareRiseClass: 0, topChangedTo: 0, topChangedToShare: 0.226 }));
  assert.not.ok(augmentationFiresBackdoor({ maxShareRise: 0.033, maxShareRiseClass: 0, topChangedTo: 0, topChangedToShare: 0.343 }));
  // a large rise whose class is not where the changes go, or changes spread over classes
  assert.not.ok(augmentationFiresBackdoor({ maxShareRise: 0.2, maxShareRiseClass: 3, topChangedTo: 1, topChangedToShare: 0.6 }));
  assert.not.ok(augmentationFiresBackdoor({ maxShareRise: 0.2, maxShareRiseClass: 1, topChangedTo: 1, topChangedToShare: 0.3 }));
  const a = compareLabels([1, 2, 3, 4, 5, 6, 7, 8, 9, 0], [0, 0, 0, 4, 5, 6, 7, 8, 9, 0], 10);
  assert.ok(augmentationFiresBackdoor(a), 'three of ten labels pulled to class 0');
});

test.run();
