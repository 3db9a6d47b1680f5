/** Exact properties of the trigger functions and poisoned sets (host side, no GPU). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BADNETS_CIFAR_PATCH, BadNets } from '../../src/attacks/badnets.js';
import { Blended, blendedPattern } from '../../src/attacks/blended.js';
import { WaNet, warpImage } from '../../src/attacks/wanet.js';
import { PhysicalBA } from '../../src/attacks/physical-ba.js';
import { BATT } from '../../src/attacks/batt.js';
import { AdaptivePatch, adaptiveTriggers, adaptiveTriggers32 } from '../../src/attacks/adaptive-patch.js';
import { asrByClass, imageOf, LUMA, poisonTestSet } from '../../src/attacks/common.js';
import type { Image } from '../../src/data/augment.js';
import { randomAffine, rotateNearest } from '../../src/data/geometry.js';
import { NORMALIZATION } from '../../src/data/dataset.js';
import { Rng } from '../../src/util/random.js';
import { gridSampleRef } from '../reference/gridsample.js';
import { equalBytes, imageBytes, pixel, synthetic } from './synthetic.js';

const ctx = { normalization: NORMALIZATION.cifar10! };

test('BadNets: the 3x3 official patch replaces exactly the bottom-right pixels, nothing else', async () => {
  for (const [h, c] of [[12, 3], [28, 1], [32, 3]] as const) {
    const ds = synthetic(57, h, h, c, h);
    const a = new BadNets({ h, w: h, c });
    const { dataset, poisoned } = await a.poisonTrain(ds);
    assert.is(poisoned.length, Math.floor(57 * 0.1));
    assert.is(new Set(poisoned).size, poisoned.length);
    const isP = new Set(poisoned);
    for (let i = 0; i < ds.n; i++) {
      if (!isP.has(i)) {
        assert.ok(equalBytes(imageBytes(dataset, i), imageBytes(ds, i)));
        assert.is(dataset.labels[i], ds.labels[i]);
        continue;
      }
      assert.is(dataset.labels[i], 0);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < h; x++) {
          const inPatch = y >= h - 3 && x >= h - 3;
          const want = inPatch ? Array(c).fill(BADNETS_CIFAR_PATCH[y - (h - 3)]![x - (h - 3)]) : pixel(ds, i, y, x);
          assert.equal(pixel(dataset, i, y, x), want);
        }
      }
    }
    // the clean set is not modified
    assert.ok(equalBytes(ds.images, synthetic(57, h, h, c, h).images));
  }
});

test('BadNets at 224 px: seeded 20x20 grey patch; poisoned test = non-target images, label target', async () => {
  const ds = synthetic(4, 224, 224, 3, 2, 2);
  const a = new BadNets({ h: 224, w: 224, c: 3 }, { target: 1 });
  const t = a.trigger;
  assert.is(t.patch.length, 20);
  assert.is(t.top, 204);
  assert.equal(new BadNets({ h: 224, w: 224, c: 3 }, { target: 1 }).trigger, t);
  assert.not.equal(new BadNets({ h: 224, w: 224, c: 3 }, { seed: 1 }).trigger.patch, t.patch);
  const pt = a.poisonTest(ds);
  assert.is(pt.n, 2); // labels 0,1,0,1 → the two label-0 images
  assert.equal(Array.from(pt.labels), [1, 1]);
  assert.equal(pixel(pt, 0, 210, 215), Array(3).fill(t.patch[6]![11]));
  assert.equal(pixel(pt, 1, 0, 0), pixel(ds, 2, 0, 0));
  assert.throws(() => new BadNets({ h: 28, w: 28, c: 1 }).poisonTest(ds), /created for 28x28x1/);
});

test('poisonTestSet: another trigger and a limit keep the first N non-target images, label target', () => {
  const ds = synthetic(10, 12, 12, 1, 3, 2); // labels 0,1,0,1,...: the non-target ones are 1,3,5,7,9
  const a = new BadNets({ h: 12, w: 12, c: 1 });
  const invert = (img: Image): Image => ({ ...img, data: img.data.map((v) => 255 - v) });
  const pt = poisonTestSet(a, ds, { trigger: invert, limit: 3, name: 'inverted' });
  assert.equal([pt.n, Array.from(pt.labels), pt.name], [3, [0, 0, 0], `${ds.name}+inverted`]);
  for (let k = 0; k < 3; k++) assert.equal(pixel(pt, k, 5, 7), [255 - pixel(ds, 2 * k + 1, 5, 7)[0]!]);
  // without options: all five, through the attack's own test trigger
  const all = poisonTestSet(a, ds);
  assert.is(all.n, 5);
  assert.ok(equalBytes(imageBytes(all, 4), a.applyTestTrigger(imageOf(ds, 9)).data));
  assert.is(poisonTestSet(a, ds, { limit: 99 }).n, 5);
});

test('asrByClass: predictions on the default poisoned test set, split by the true class', () => {
  const ds = synthetic(9, 4, 4, 1, 3, 3); // labels 0,1,2,0,1,2,...; target 1: non-target test order 0,2,0,2,0,2
  const pred = Int32Array.from([1, 1, 0, 1, 2, 0]); // class0: 1,0,2 -> 1/3; class2: 1,1,0 -> 2/3
  assert.equal(asrByClass(pred, ds, 1), { class0: 1 / 3, class2: 2 / 3 });
  // a prediction count that is not one per non-target image (a limited or other test set)
  assert.is(asrByClass(pred.subarray(0, 5), ds, 1), null);
});

test('Blended: x′ = round(0.9·x + 0.1·255·pattern) everywhere; grey images blend the luminance', async () => {
  for (const [h, c] of [[12, 3], [28, 1]] as const) {
    const ds = synthetic(40, h, h, c, 3);
    const a = new Blended({ h, w: h, c });
    const rgb = blendedPattern(h, h);
    const { dataset, poisoned } = await a.poisonTrain(ds);
    assert.is(poisoned.length, 4);
    for (const i of poisoned) {
      assert.is(dataset.labels[i], 0);
      const src = imageBytes(ds, i);
      const out = imageBytes(dataset, i);
      for (let p = 0; p < h * h; p++) {
        for (let k = 0; k < c; k++) {
          const pat = c === 3 ? rgb[3 * p + k]! : LUMA[0]! * rgb[3 * p]! + LUMA[1]! * rgb[3 * p + 1]! + LUMA[2]! * rgb[3 * p + 2]!;
          const want = 0.9 * src[p * c + k]! + 0.1 * 255 * pat;
          assert.ok(Math.abs(out[p * c + k]! - want) <= 0.5 + 1e-9, `pixel ${p}: ${out[p * c + k]} vs ${want}`);
        }
      }
    }
    const pt = a.poisonTest(ds);
    assert.is(pt.n, 36);
    assert.ok(pt.labels.every((l) => l === 0));
  }
});

test('Blended substitute pattern: deterministic, statistics like the original (white/black/colour, means)', () => {
  const s = 113;
  const p = blendedPattern(s, s);
  assert.ok(equalBytes(new Uint8Array(p.buffer), new Uint8Array(blendedPattern(s, s).buffer)));
  let white = 0;
  let black = 0;
  const mean = [0, 0, 0];
  for (let i = 0; i < s * s; i++) {
    const [r, g, b] = [p[3 * i]!, p[3 * i + 1]!, p[3 * i + 2]!];
    if (r > 0.85 && g > 0.85 && b > 0.85) white++;
    if (r < 0.2 && g < 0.2 && b < 0.2) black++;
    mean[0] += r;
    mean[1] += g;
    mean[2] += b;
  }
  assert.ok(white / (s * s) > 0.55 && white / (s * s) < 0.75, `white ${white / (s * s)}`);
  assert.ok(black / (s * s) > 0.08 && black / (s * s) < 0.2, `black ${black / (s * s)}`);
  const m = mean.map((v) => v / (s * s));
  [0.81, 0.75, 0.78].forEach((want, k) => assert.ok(Math.abs(m[k]! - want) < 0.04, `mean ${m}`));
  assert.ok(p.every((v) => v >= 0 && v <= 1));
});

test('WaNet (k = H): field bounded by its strength, no NaNs, grid in [−1, 1]; constant images stay constant', async () => {
  for (const [h, c] of [[12, 3], [28, 1], [32, 3]] as const) {
    const a = new WaNet({ h, w: h, c });
    const f = a.field;
    assert.is(f.k, h);
    assert.ok([...f.noise, ...f.grid].every(Number.isFinite));
    assert.ok(f.grid.every((g) => g >= -1 && g <= 1));
    // k = H: the bicubic upsampling is the identity and mean|noise| = 1
    assert.equal(Array.from(f.noise), Array.from(f.ins));
    assert.ok(Math.abs(f.noise.reduce((s, v) => s + Math.abs(v), 0) / f.noise.length - 1) < 1e-9);
    const maxNoise = Math.max(...f.noise.map(Math.abs));
    let maxAxis = 0;
    for (let p = 0; p < h * h; p++) {
      maxAxis = Math.max(maxAxis, Math.abs(((f.grid[2 * p]! + 1) / 2) * (h - 1) - (p % h)), Math.abs(((f.grid[2 * p + 1]! + 1) / 2) * (h - 1) - Math.floor(p / h)));
    }
    const bound = (0.5 * maxNoise * (h - 1)) / (2 * h);
    assert.ok(maxAxis <= bound + 1e-9 && bound < 0.5, `max displacement ${maxAxis} > ${bound}`);
    assert.ok(maxAxis > 0.1);
    const flat = { data: new Uint8Array(h * h * c).fill(77), h, w: h, c };
    assert.ok(warpImage(flat, f.grid).data.every((v) => v === 77));
    // a random image: F.grid_sample(align_corners=True) in float64, rounded and clamped
    const rnd = new Rng(h);
    const pic = { data: Uint8Array.from({ length: h * h * c }, () => rnd.int(256)), h, w: h, c };
    const want = gridSampleRef(Float64Array.from(pic.data), [1, h, h, c], Float64Array.from(f.grid), h, h, true);
    const got = warpImage(pic, f.grid).data;
    want.forEach((v, i) => {
      const tie = Math.abs((v % 1) - 0.5) < 1e-6; // either rounding of an exact half is fine
      if (!tie && got[i] !== Math.min(255, Math.round(v))) assert.unreachable(`WaNet warp, element ${i}: ${got[i]}, grid_sample ${v}`);
    });
    const ds = synthetic(40, h, h, c, 9);
    const { dataset, poisoned } = await a.poisonTrain(ds);
    assert.is(poisoned.length, 4);
    for (const i of poisoned) {
      assert.is(dataset.labels[i], 0);
      assert.ok(!equalBytes(imageBytes(dataset, i), imageBytes(ds, i)));
      assert.ok(equalBytes(imageBytes(dataset, i), a.applyTestTrigger(imageOf(ds, i)).data));
    }
  }
});

test('WaNet (k = 4): bicubic field interpolates the control points, bounded overshoot; noise mode keeps labels', async () => {
  const h = 12;
  const a = new WaNet({ h, w: h, c: 3 }, { k: 4, noise: true });
  const f = a.field;
  assert.is(f.k, 4);
  // align_corners = True: output corners sit exactly on control points (0,0) and (3,3)
  assert.ok(Math.abs(f.noise[0]! - f.ins[0]!) < 1e-12 && Math.abs(f.noise[(h * h - 1) * 2 + 1]! - f.ins[15 * 2 + 1]!) < 1e-12);
  const maxIns = Math.max(...f.ins.map(Math.abs));
  assert.ok(Math.max(...f.noise.map(Math.abs)) <= maxIns * 1.375 ** 2 + 1e-9);
  assert.ok(f.grid.every((g) => Number.isFinite(g) && g >= -1 && g <= 1));
  // smooth: neighbouring noise values differ far less than i.i.d. values would
  let d = 0;
  for (let p = 0; p < h * h - 1; p++) if ((p + 1) % h) d = Math.max(d, Math.abs(f.noise[2 * p]! - f.noise[2 * p + 2]!));
  assert.ok(d < maxIns, `jump ${d}`);
  const ds = synthetic(50, h, h, 3, 4);
  const { dataset, poisoned, cover } = await a.poisonTrain(ds);
  assert.is(poisoned.length, 5);
  assert.is(cover!.length, 10);
  assert.ok(poisoned.every((i) => !cover!.includes(i)));
  for (const i of cover!) {
    assert.is(dataset.labels[i], ds.labels[i]);
    assert.ok(!equalBytes(imageBytes(dataset, i), imageBytes(ds, i)));
  }
});

test('PhysicalBA: BadNets store + seeded physical transform on every training sample; test = plain BadNets', async () => {
  const ds = synthetic(40, 12, 12, 3, 5);
  const a = new PhysicalBA({ h: 12, w: 12, c: 3 });
  const b = new BadNets({ h: 12, w: 12, c: 3 });
  const pa = await a.poisonTrain(ds);
  const pb = await b.poisonTrain(ds);
  assert.equal(Array.from(pa.poisoned), Array.from(pb.poisoned));
  assert.ok(equalBytes(pa.dataset.images, pb.dataset.images));
  assert.ok(equalBytes(a.poisonTest(ds).images, b.poisonTest(ds).images));
  const tf = pa.sampleTransform!;
  let changed = 0;
  for (let i = 0; i < ds.n; i++) {
    const img = imageOf(pa.dataset, i);
    const out1 = tf(img, i, new Rng(i));
    const out2 = tf(img, i, new Rng(i));
    assert.ok(equalBytes(out1.data, out2.data));
    assert.is(out1.data.length, img.data.length);
    if (!equalBytes(out1.data, img.data)) changed++;
  }
  assert.is(changed, ds.n); // scale ≤ 0.9 always shrinks the image
});

test('BATT: stored images unchanged, labels flipped; train rotation is exactly 16°; benign samples get RandomAffine(10) with mean fill', async () => {
  const ds = synthetic(40, 12, 12, 3, 6);
  const a = new BATT({ h: 12, w: 12, c: 3 });
  const { dataset, poisoned, sampleTransform } = await a.poisonTrain(ds, ctx);
  assert.is(poisoned.length, 4);
  assert.ok(equalBytes(dataset.images, ds.images));
  const isP = new Set(poisoned);
  for (let i = 0; i < ds.n; i++) assert.is(dataset.labels[i], isP.has(i) ? 0 : ds.labels[i]);
  const fill = NORMALIZATION.cifar10!.mean.map((m) => Math.round(255 * m));
  for (let i = 0; i < ds.n; i++) {
    const img = imageOf(dataset, i);
    const got = sampleTransform!(img, i, new Rng(7));
    const want = isP.has(i) ? rotateNearest(img, 16, 0) : randomAffine(img, { degrees: 10 }, new Rng(7), fill);
    assert.ok(equalBytes(got.data, want.data), `sample ${i}`);
  }
  // the 16° trigger moves pixel (y 7, x 11) to (5, 11) and blackens the corners
  const pt = a.poisonTest(ds);
  assert.is(pt.n, 36);
  const first = Array.from(ds.labels).findIndex((l) => l !== 0);
  assert.equal(pixel(pt, 0, 5, 11), pixel(ds, first, 7, 11));
  assert.equal(pixel(pt, 0, 0, 0), [0, 0, 0]);
  assert.equal(a.params().angle, 16);
});

test('Adaptive-Patch substitute triggers: positions, sizes, supports and colours of the substitute design (docs/attacks.md)', () => {
  const [phoenix, badnet, firefox, trojan] = adaptiveTriggers32();
  const support = (t: Uint8Array) => {
    const s: [number, number][] = [];
    for (let p = 0; p < 1024; p++) if (t[3 * p]! || t[3 * p + 1]! || t[3 * p + 2]!) s.push([Math.floor(p / 32), p % 32]);
    return s;
  };
  const meanOf = (t: Uint8Array) => {
    const s = support(t);
    return [0, 1, 2].map((k) => s.reduce((a, [y, x]) => a + t[(y * 32 + x) * 3 + k]!, 0) / s.length);
  };
  const ph = support(phoenix!);
  assert.is(ph.length, 25);
  assert.ok(ph.every(([y, x]) => y >= 27 && x >= 27));
  meanOf(phoenix!).forEach((v, k) => assert.ok(Math.abs(v - [180, 204, 244][k]!) < 15, `phoenix mean ${meanOf(phoenix!)}`));
  const corners = [[0, 0], [0, 2], [1, 1], [2, 0], [0, 29], [0, 31], [1, 30], [2, 31], [29, 0], [30, 1], [31, 0], [31, 2], [29, 31], [30, 30], [31, 29], [31, 31]];
  assert.equal(support(badnet!).map(String).sort(), corners.map(String).sort());
  assert.ok(support(badnet!).every(([y, x]) => [0, 1, 2].every((k) => badnet![(y * 32 + x) * 3 + k] === 255)));
  const ff = support(firefox!);
  assert.is(ff.length, 140);
  assert.ok(ff.every(([y, x]) => y >= 1 && y <= 13 && x >= 18 && x <= 30));
  meanOf(firefox!).forEach((v, k) => assert.ok(Math.abs(v - [192, 114, 82][k]!) < 15, `firefox mean ${meanOf(firefox!)}`));
  const tr = support(trojan!);
  assert.is(tr.length, 64);
  assert.ok(tr.every(([y, x]) => y >= 21 && y <= 28 && x >= 21 && x <= 28));
  // 224 px: exact 7× blocks; 28 px keeps the corner pixels
  const t224 = adaptiveTriggers(224, 224, 3);
  assert.is(t224[1]!.mask.reduce((a, b) => a + b, 0), 16 * 49);
  assert.is(t224[2]!.mask.reduce((a, b) => a + b, 0), 140 * 49);
  const t28 = adaptiveTriggers(28, 28, 1);
  assert.is(t28[1]!.mask.reduce((a, b) => a + b, 0), 16);
  assert.is(t28[0]!.pattern.length, 28 * 28);
});

test('Adaptive-Patch: 1% poison (label → target) + 2% cover (label kept), round-robin weak triggers; test = 2 triggers at α 1', async () => {
  const h = 32;
  const ds = synthetic(400, h, h, 3, 8);
  const a = new AdaptivePatch({ h, w: h, c: 3 });
  const res = await a.poisonTrain(ds);
  const { dataset, poisoned, cover } = res;
  assert.is(poisoned.length, 4);
  assert.is(cover!.length, 8);
  assert.ok(poisoned.every((i) => !cover!.includes(i)));
  for (const i of poisoned) assert.is(dataset.labels[i], 0);
  for (const i of cover!) assert.is(dataset.labels[i], ds.labels[i], 'cover samples keep their labels');
  res.poisonOrder.forEach((i, k) => assert.ok(equalBytes(imageBytes(dataset, i), a.applyTrigger(imageOf(ds, i), k % 4, [0.5, 0.5, 0.2, 0.3][k % 4]!).data)));
  res.coverOrder.forEach((i, k) => assert.ok(equalBytes(imageBytes(dataset, i), a.trainTrigger(imageOf(ds, i), k).data)));
  const touched = new Set([...poisoned, ...cover!]);
  for (let i = 0; i < ds.n; i++) if (!touched.has(i)) assert.ok(equalBytes(imageBytes(dataset, i), imageBytes(ds, i)));
  // a weak trigger only changes its support: α = 0.2 blend there
  const i0 = res.poisonOrder[2]!; // firefox, α 0.2
  const ff = a.triggers[2]!;
  for (let p = 0; p < h * h; p++) {
    for (let k = 0; k < 3; k++) {
      const x = ds.images[i0 * h * h * 3 + p * 3 + k]!;
      const want = ff.mask[p] ? 0.8 * x + 0.2 * 255 * ff.pattern[p * 3 + k]! : x;
      assert.ok(Math.abs(dataset.images[i0 * h * h * 3 + p * 3 + k]! - want) <= 0.5 + 1e-9);
    }
  }
  // test: phoenix (on top) and badnet pixels replaced exactly by the trigger values, the rest untouched
  const pt = a.poisonTest(ds);
  assert.is(pt.n, 360);
  const [phoenix, badnet] = adaptiveTriggers32();
  const src = Array.from(ds.labels).findIndex((l) => l !== 0);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < h; x++) {
      const p = y * h + x;
      const ph = Array.from(phoenix!.subarray(3 * p, 3 * p + 3));
      const bn = Array.from(badnet!.subarray(3 * p, 3 * p + 3));
      const want = ph.some((v) => v > 0) ? ph : bn.some((v) => v > 0) ? bn : pixel(ds, src, y, x);
      assert.equal(pixel(pt, 0, y, x), want, `(${y}, ${x})`);
    }
  }
});

test.run();
