import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { affineNearest, affineSource, brightness, randomAffineParams, rotateNearest } from '../../src/data/geometry.js';
import type { Image } from '../../src/data/augment.js';
import { Rng } from '../../src/util/random.js';

function randomImage(h: number, w: number, c: number, seed: number): Image {
  const r = new Rng(seed);
  return { data: Uint8Array.from({ length: h * w * c }, () => 1 + r.int(255)), h, w, c };
}
const at = (img: Image, y: number, x: number) => Array.from(img.data.subarray((y * img.w + x) * img.c, (y * img.w + x + 1) * img.c));

test('rotating by 90° four times is the identity (even and odd sizes)', () => {
  for (const [s, c] of [[12, 3], [7, 1], [28, 1]] as const) {
    const img = randomImage(s, s, c, s);
    let r = img;
    for (let k = 0; k < 4; k++) r = rotateNearest(r, 90);
    assert.equal(Array.from(r.data), Array.from(img.data), `${s}x${s}x${c}`);
    // 90° is a permutation (no fill), 180° = 90° twice
    assert.ok(rotateNearest(img, 90).data.every((v) => v > 0));
    assert.equal(Array.from(rotateNearest(img, 180).data), Array.from(rotateNearest(rotateNearest(img, 90), 90).data));
  }
  assert.equal(Array.from(rotateNearest(randomImage(9, 5, 3, 2), 0).data), Array.from(randomImage(9, 5, 3, 2).data));
});

test('90° turns the content counter-clockwise (PIL rotate convention)', () => {
  const img = randomImage(12, 12, 3, 4);
  const r = rotateNearest(img, 90);
  // the source's top-right corner ends at the top-left, its top-left at the bottom-left
  assert.equal(at(r, 0, 0), at(img, 0, 11));
  assert.equal(at(r, 11, 0), at(img, 0, 0));
  assert.equal(at(r, 11, 11), at(img, 11, 0));
});

test('a 16° rotation maps a known pixel where the formula says, and fills outside', () => {
  const img = randomImage(12, 12, 3, 5);
  const r = rotateNearest(img, 16, 0);
  // output (x=11, y=5): u = 5.5, v = −0.5 about the centre (5.5, 5.5); cos16 = 0.961262, sin16 = 0.275637
  // sx = 5.5 + 0.961262·5.5 + 0.275637·0.5 = 10.925 → 11;  sy = 5.5 + 0.275637·5.5 − 0.961262·0.5 = 6.535 → 7
  const [sx, sy] = affineSource(11, 5, 12, 12, { angle: 16 });
  assert.ok(Math.abs(sx - 10.9248) < 1e-3 && Math.abs(sy - 6.5354) < 1e-3, `${sx}, ${sy}`);
  assert.equal(at(r, 5, 11), at(img, 7, 11));
  // output (0, 0): sy = 5.5 − 0.275637·5.5 − 0.961262·5.5 = −1.30 → outside → fill
  assert.equal(at(r, 0, 0), [0, 0, 0]);
  assert.equal(at(rotateNearest(img, 16, [9, 8, 7]), 0, 0), [9, 8, 7]);
  // near the centre nothing moves: (6, 6) ← (5.5 + 0.961·0.5 − 0.276·0.5, 5.5 + 0.276·0.5 + 0.961·0.5) = (5.84, 6.12) → (6, 6)
  assert.equal(at(r, 6, 6), at(img, 6, 6));
});

test('affine: identity parameters are the identity; scale and translation map as inverse formula', () => {
  const img = randomImage(10, 14, 3, 6);
  assert.equal(Array.from(affineNearest(img, { angle: 0, translate: [0, 0], scale: 1 }).data), Array.from(img.data));
  // pure integer translation by (+2, +1): out(x, y) = in(x − 2, y − 1), zeros where that leaves the image
  const t = affineNearest(img, { angle: 0, translate: [2, 1] });
  assert.equal(at(t, 5, 7), at(img, 4, 5));
  assert.equal(at(t, 0, 3), [0, 0, 0]);
  assert.equal(at(t, 4, 1), [0, 0, 0]);
  // scale 0.5 about the centre (6.5, 4.5): out(x, y) = in(round(6.5 + 2(x − 6.5)), round(4.5 + 2(y − 4.5)))
  const s = affineNearest(img, { angle: 0, scale: 0.5 });
  assert.equal(at(s, 4, 6), at(img, 4, 6)); // (6.5 − 1, 4.5 − 1) → (5.5, 3.5) → round half up (6, 4)
  assert.equal(at(s, 0, 0), [0, 0, 0]);
});

test('random affine parameters stay in their ranges; brightness scales and clamps', () => {
  const r = new Rng(3);
  for (let k = 0; k < 200; k++) {
    const p = randomAffineParams(32, 32, { degrees: 10, translate: [0.1, 0.1], scale: [0.8, 0.9] }, r);
    assert.ok(Math.abs(p.angle) <= 10 && p.scale! >= 0.8 && p.scale! <= 0.9);
    assert.ok(Number.isInteger(p.translate![0]) && Math.abs(p.translate![0]) <= 3.2 && Math.abs(p.translate![1]) <= 3.2);
  }
  const img: Image = { data: Uint8Array.from([0, 100, 200, 250]), h: 1, w: 4, c: 1 };
  assert.equal(Array.from(brightness(img, 1.1).data), [0, 110, 220, 255]);
  assert.equal(Array.from(brightness(img, 0.9).data), [0, 90, 180, 225]);
});

test.run();
