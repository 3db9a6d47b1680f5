import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { augment, colorJitter, flipH, grayscale, randomCrop, resizedCropParams } from '../../src/data/augment.js';
import { rotateNearest } from '../../src/data/geometry.js';
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
  // the same draws replayed: out[y, x] = in[y + dy, x + dx], zero outside (torchvision's
  // RandomCrop(padding) on the zero-padded image)
  const r = new Rng(3);
  const replay = new Rng(3);
  const offsets = new Set<string>();
  for (let t = 0; t < 20; t++) {
    const out = randomCrop(img, 2, r);
    const dy = replay.int(5) - 2;
    const dx = replay.int(5) - 2;
    offsets.add(`${dy},${dx}`);
    const want = Array.from(out.data, (_, i) => {
      const [p, k] = [Math.floor(i / 3), i % 3];
      const [y, x] = [Math.floor(p / 7) + dy, (p % 7) + dx];
      return y < 0 || y >= 5 || x < 0 || x >= 7 ? 0 : img.data[(y * 7 + x) * 3 + k]!;
    });
    assert.equal(Array.from(out.data), want, `offset (${dy}, ${dx})`);
  }
  assert.ok(offsets.size > 10, `only ${offsets.size} distinct offsets in 20 draws`);
});

test('grayscale copies the luma to every channel', () => {
  const g = grayscale(img);
  for (let p = 0; p < 35; p++) {
    const [r, gg, b] = [img.data[3 * p]!, img.data[3 * p + 1]!, img.data[3 * p + 2]!];
    assert.is(g.data[3 * p], Math.round(0.2989 * r + 0.587 * gg + 0.114 * b));
    assert.is(g.data[3 * p + 1], g.data[3 * p]);
  }
});

/** colorJitter in float64 from the same two uniform draws (the definition, written out). */
function jitterReference(im: typeof img, b: number, k: number, u1: number, u2: number): number[] {
  const beta = 1 - b + 2 * b * u1;
  const kappa = 1 - k + 2 * k * u2;
  const x = Array.from(im.data, (v) => Math.min(255, v * beta));
  const px = im.h * im.w;
  let m = 0;
  for (let p = 0; p < px; p++) m += im.c === 3 ? 0.2989 * x[3 * p]! + 0.587 * x[3 * p + 1]! + 0.114 * x[3 * p + 2]! : x[p]!;
  m /= px;
  return x.map((v) => Math.round(Math.min(255, Math.max(0, (v - m) * kappa + m))));
}

test('colorJitter: brightness then contrast around the mean luma, clamped and rounded (RGB and grey)', () => {
  const grey = { data: Uint8Array.from({ length: 6 * 5 }, (_, i) => (i * 53) % 256), h: 6, w: 5, c: 1 };
  for (const im of [img, grey]) {
    for (const seed of [1, 2, 3]) {
      const r = new Rng(seed);
      const draws = new Rng(seed);
      const u1 = draws.next();
      const u2 = draws.next();
      assert.equal(Array.from(colorJitter(im, 0.3, 0.4, r).data), jitterReference(im, 0.3, 0.4, u1, u2));
    }
  }
  // factor 1 (b = k = 0) is the identity; contrast 0 of a flat image leaves it flat
  assert.equal(Array.from(colorJitter(img, 0, 0, new Rng(1)).data), Array.from(img.data));
  // the shape and the input are untouched
  const before = Array.from(img.data);
  const out = colorJitter(img, 0.5, 0.5, new Rng(4));
  assert.equal([out.h, out.w, out.c], [img.h, img.w, img.c]);
  assert.equal(Array.from(img.data), before);
});

test('colorJitter: lowering the contrast pulls a dark background towards the mean (what a blended trigger does)', () => {
  const im = { data: new Uint8Array(100), h: 10, w: 10, c: 1 };
  for (let i = 0; i < 30; i++) im.data[i] = 200; // an object on a black background
  // κ = 0.7 exactly: draws u1 (unused: b = 0), u2 = 0 → κ = 1 − 0.3
  const low = colorJitter(im, 0, 0.3, { next: () => 0 } as unknown as Rng);
  assert.is(low.data[99], Math.round(0.3 * 60)); // mean 60, background 0 → 18
  assert.is(low.data[0], Math.round((200 - 60) * 0.7 + 60));
  // augment applies it last, after the flip
  const spec = { flip: 1, colorJitter: { brightness: 0, contrast: 0.3 } };
  assert.equal(Array.from(augment(im, spec, { next: () => 0 } as unknown as Rng).data), Array.from(colorJitter(flipH(im), 0, 0.3, { next: () => 0 } as unknown as Rng).data));
});

test('rotation: the image rotated by an angle uniform in [−d, d] (RandomRotation), after the flip; with p, a share p of them', () => {
  const sq = { data: Uint8Array.from({ length: 15 * 15 }, (_, i) => (i * 53) % 256), h: 15, w: 15, c: 1 };
  const signs = new Set<number>();
  for (let seed = 1; seed <= 12; seed++) {
    const draw = new Rng(seed);
    const flipped = draw.next() < 0.5;
    const angle = draw.uniform(-20, 20);
    assert.ok(Math.abs(angle) <= 20);
    signs.add(Math.sign(angle));
    const want = rotateNearest(flipped ? flipH(sq) : sq, angle);
    assert.equal(Array.from(augment(sq, { flip: 0.5, rotation: { degrees: 20 } }, new Rng(seed)).data), Array.from(want.data));
  }
  assert.is(signs.size, 2);
  // rotations change the image (corners go black; only angles within ~3° of 0 keep a 15×15 grid), no rotation leaves it alone
  const moved = [1, 2, 3, 4, 5, 6, 7, 8].filter((seed) => Array.from(augment(sq, { rotation: { degrees: 20 } }, new Rng(seed)).data).some((v, i) => v !== sq.data[i]));
  assert.ok(moved.length >= 6, `${moved.length} of 8 rotated images differ`);
  assert.equal(Array.from(augment(sq, {}, new Rng(3)).data), Array.from(sq.data));
  // RandomApply(p): one draw decides, then the angle is drawn as above
  for (let seed = 1; seed <= 12; seed++) {
    const draw = new Rng(seed);
    const applies = draw.next() < 0.3;
    const want = applies ? rotateNearest(sq, draw.uniform(-20, 20)) : sq;
    assert.equal(Array.from(augment(sq, { rotation: { degrees: 20, p: 0.3 } }, new Rng(seed)).data), Array.from(want.data));
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
  // a shuffled batch's indices name its images (REFINE looks its cached pseudo-labels up by them)
  for (const bt of batches(ds, 0, { batchSize: 6, shuffle: true, seed: 5 })) {
    bt.indices.forEach((j, k) => assert.equal(Array.from(bt.x.subarray(k * 16, k * 16 + 16)), Array.from(plain.x.subarray(j * 16, j * 16 + 16)), `image ${j}`));
  }
});

test.run();
