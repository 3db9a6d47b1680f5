import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { flipH, grayscale, randomCrop, resizedCropParams } from '../../src/data/augment.js';
import { batches } from '../../src/data/loader.js';
import type { ImageDataset } from '../../src/data/dataset.js';
import { Rng } from '../../src/util/random.js';

const img = { data: Uint8Array.from({ length: 5 * 7 * 3 }, (_, i) => (i * 37) % 256), h: 5, w: 7, c: 3 };

test('flip twice is the identity; crop with padding 0 is the identity', () => {
  assert.equal(Array.from(flipH(flipH(img)).data), Array.from(img.data));
  assert.equal(Array.from(flipH(img).data.subarray(0, 3)), Array.from(img.data.subarray(18, 21)));
  assert.equal(Array.from(randomCrop(img, 0, new Rng(1)).data), Array.from(img.data));
});

test('random crop with padding shifts content and fills zeros', () => {
  const r = new Rng(3);
  let shifted = 0;
  for (let t = 0; t < 20; t++) {
    const out = randomCrop(img, 2, r);
    if (Array.from(out.data).some((v, i) => v !== img.data[i])) shifted++;
  }
  assert.ok(shifted > 10);
});

test('grayscale copies the luma to every channel', () => {
  const g = grayscale(img);
  for (let p = 0; p < 35; p++) {
    const [r, gg, b] = [img.data[3 * p]!, img.data[3 * p + 1]!, img.data[3 * p + 2]!];
    assert.is(g.data[3 * p], Math.round(0.2989 * r + 0.587 * gg + 0.114 * b));
    assert.is(g.data[3 * p + 1], g.data[3 * p]);
  }
});

test('RandomResizedCrop parameters respect the scale and ratio ranges', () => {
  const r = new Rng(9);
  for (let t = 0; t < 200; t++) {
    const [top, left, ch, cw] = resizedCropParams(32, 32, [0.8, 1], [3 / 4, 4 / 3], r);
    assert.ok(top >= 0 && left >= 0 && top + ch <= 32 && left + cw <= 32);
    assert.ok((ch * cw) / 1024 >= 0.7 && (ch * cw) / 1024 <= 1.0001, `area ${(ch * cw) / 1024}`);
  }
});

test('the loader is reproducible per (seed, epoch) and differs across epochs', () => {
  const ds: ImageDataset = { name: 't', images: Uint8Array.from({ length: 20 * 4 * 4 }, (_, i) => i % 251), labels: Uint8Array.from({ length: 20 }, (_, i) => i % 3), n: 20, h: 4, w: 4, c: 1, classes: ['a', 'b', 'c'] };
  const opts = { batchSize: 6, shuffle: true, seed: 5, augment: { flip: 0.5, cropPadding: 1 }, normalization: { mean: [0.5], std: [0.25] } };
  const a = [...batches(ds, 0, opts)];
  const b = [...batches(ds, 0, opts)];
  const c = [...batches(ds, 1, opts)];
  assert.is(a.length, 4);
  assert.is(a[3]!.y.length, 2);
  assert.equal(Array.from(a[0]!.x), Array.from(b[0]!.x));
  assert.not.equal(Array.from(a[0]!.indices), Array.from(c[0]!.indices));
  assert.is([...batches(ds, 0, { ...opts, dropLast: true })].length, 3);
  const plain = [...batches(ds, 0, { batchSize: 20 })][0]!;
  assert.ok(Math.abs(plain.x[1]! - 1 / 255) < 1e-7);
  // keepPlain: the same augmented batches, plus each image normalised without augmentation
  const kept = [...batches(ds, 0, { ...opts, keepPlain: true })];
  assert.is(a[0]!.xPlain, undefined);
  for (const [i, bt] of kept.entries()) {
    assert.equal(Array.from(bt.x), Array.from(a[i]!.x), 'augmentation unchanged');
    const ref = [...batches({ ...ds, images: Uint8Array.from(Array.from(bt.indices).flatMap((j) => Array.from(ds.images.subarray(j * 16, j * 16 + 16)))), n: bt.indices.length }, 0, { batchSize: 20, normalization: opts.normalization })][0]!;
    assert.equal(Array.from(bt.xPlain!), Array.from(ref.x), `batch ${i} plain images`);
  }
  assert.not.equal(Array.from(kept[0]!.xPlain!), Array.from(kept[0]!.x), 'the augmentation changed something');
});

test.run();
