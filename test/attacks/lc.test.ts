/** Label-Consistent: index choice and the PGD step on a tiny ResNet (GPU, end to end). */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BADNETS_CIFAR_PATCH } from '../../src/attacks/badnets.js';
import { LabelConsistent, pgdAttack } from '../../src/attacks/label-consistent.js';
import { NORMALIZATION } from '../../src/data/dataset.js';
import { scope, tensor } from '../../src/index.js';
import { ResNet18 } from '../../src/nn/resnet.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { imageBytes, synthetic } from './synthetic.js';

const S = 8;
const normalization = NORMALIZATION.cifar10!;

test('LC chooses floor(rate · #target-class) target-class images only', () => {
  const ds = synthetic(80, S, S, 3, 11); // 8 images per class
  const a = new LabelConsistent({ h: S, w: S, c: 3 });
  assert.is(a.rate, 0.25);
  const idx = a.chooseIndices(ds);
  assert.is(idx.length, 2);
  assert.ok(Array.from(idx).every((i) => ds.labels[i] === 0));
  assert.is(new LabelConsistent({ h: S, w: S, c: 3 }, { rate: 1 }).chooseIndices(ds).length, 8);
  assert.is(new LabelConsistent({ h: 224, w: 224, c: 3 }).rate, 1);
  assert.throws(() => new LabelConsistent({ h: S, w: S, c: 3 }, { stepz: 3 }), /unknown option 'stepz'/);
});

test('LC PGD (tiny ResNet, 2 steps): perturbation within ε, only chosen target-class images change, labels kept', async () => {
  const ds = synthetic(40, S, S, 3, 12); // 4 images of class 0
  const model = new ResNet18({ numClasses: 10, width: 0.0625, seed: 3 });
  const dir = mkdtempSync(join(tmpdir(), 'lc-test-'));
  try {
    const a = new LabelConsistent({ h: S, w: S, c: 3 }, { rate: 0.5, steps: 2, batchSize: 8 });
    const { dataset, poisoned } = await a.poisonTrain(ds, { normalization, cleanModel: model, cacheDir: dir });
    assert.is(poisoned.length, 2);
    assert.ok(existsSync(join(dir, 'lc-adversarial.bin')));
    assert.equal(Array.from(dataset.labels), Array.from(ds.labels));
    const isP = new Set(poisoned);
    let changed = 0;
    for (let i = 0; i < ds.n; i++) {
      const a0 = imageBytes(ds, i);
      const a1 = imageBytes(dataset, i);
      if (!isP.has(i)) {
        assert.equal(Array.from(a1), Array.from(a0), `image ${i} must be untouched`);
        continue;
      }
      assert.is(ds.labels[i], 0);
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          for (let k = 0; k < 3; k++) {
            const o = (y * S + x) * 3 + k;
            if (y >= S - 3 && x >= S - 3) assert.is(a1[o], BADNETS_CIFAR_PATCH[y - S + 3]![x - S + 3]);
            else {
              assert.ok(Math.abs(a1[o]! - a0[o]!) <= 8, `|δ| ${Math.abs(a1[o]! - a0[o]!)} > 8/255`);
              if (a1[o] !== a0[o]) changed++;
            }
          }
        }
      }
    }
    assert.ok(changed > 50, `only ${changed} pixels changed`);
    // the model is left as it was: trainable, in train mode
    assert.ok([...model.parameters()].every((p) => p.requiresGrad));
    assert.ok(model.training);
    // a rerun reuses the cache (no model needed)
    const again = await a.poisonTrain(ds, { normalization, cacheDir: dir });
    assert.equal(Array.from(again.dataset.images), Array.from(dataset.images));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    model.dispose();
  }
});

test('LC PGD interrupted after a batch resumes from its checkpoint and gives the uninterrupted images', async () => {
  const ds = synthetic(40, S, S, 3, 14); // 4 images of class 0
  const model = new ResNet18({ numClasses: 10, width: 0.0625, seed: 5 });
  const full = mkdtempSync(join(tmpdir(), 'lc-full-'));
  const part = mkdtempSync(join(tmpdir(), 'lc-part-'));
  try {
    const a = new LabelConsistent({ h: S, w: S, c: 3 }, { rate: 1, steps: 2, batchSize: 2 });
    const want = await a.poisonTrain(ds, { normalization, cleanModel: model, cacheDir: full });
    const stop = (m: string) => {
      if (m.startsWith('PGD: 2/4')) throw new Error('stop');
    };
    try {
      await a.poisonTrain(ds, { normalization, cleanModel: model, cacheDir: part, log: stop });
      assert.unreachable('PGD should have stopped');
    } catch (e) {
      assert.is((e as Error).message, 'stop');
    }
    assert.ok(existsSync(join(part, 'lc-adversarial.partial.bin')));
    assert.not.ok(existsSync(join(part, 'lc-adversarial.bin')));
    const logs: string[] = [];
    const got = await a.poisonTrain(ds, { normalization, cleanModel: model, cacheDir: part, log: (m) => logs.push(m) });
    assert.ok(logs.some((m) => m.includes('resuming after 2')), logs.join('\n'));
    assert.not.ok(logs.some((m) => m.startsWith('PGD: 2/4')), 'the first batch is not redone');
    assert.equal(Array.from(got.dataset.images), Array.from(want.dataset.images));
    assert.not.ok(existsSync(join(part, 'lc-adversarial.partial.bin')), 'progress removed once finished');
    assert.ok(existsSync(join(part, 'lc-adversarial.bin')));
  } finally {
    rmSync(full, { recursive: true, force: true });
    rmSync(part, { recursive: true, force: true });
    model.dispose();
  }
});

test('LC at another rate copies the PGD images a cached run shares with it and attacks only the rest', async () => {
  const ds = synthetic(40, S, S, 3, 15); // 4 images of class 0
  const model = new ResNet18({ numClasses: 10, width: 0.0625, seed: 6 });
  const dirs = ['half', 'full', 'raised', 'quarter'].map((n) => mkdtempSync(join(tmpdir(), `lc-${n}-`)));
  const [half, full, raised, quarter] = dirs as [string, string, string, string];
  const lc = (rate: number) => new LabelConsistent({ h: S, w: S, c: 3 }, { rate, steps: 2, batchSize: 2 });
  try {
    const h = await lc(0.5).poisonTrain(ds, { normalization, cleanModel: model, cacheDir: half });
    const want = await lc(1).poisonTrain(ds, { normalization, cleanModel: model, cacheDir: full });
    const logs: string[] = [];
    const got = await lc(1).poisonTrain(ds, { normalization, cleanModel: model, cacheDir: raised, cacheSources: [half], log: (m) => logs.push(m) });
    assert.ok(logs.includes('LC: reusing 2 PGD images of runs at other rates (same key otherwise)'), logs.join('\n'));
    assert.ok(logs.some((m) => m.startsWith('LC: PGD on 2 target-class images')), logs.join('\n'));
    // the copied images are the cached ones, and PGD is per image: the whole set equals a fresh run's
    for (const i of h.poisoned) assert.equal(Array.from(imageBytes(got.dataset, i)), Array.from(imageBytes(h.dataset, i)));
    assert.equal(Array.from(got.dataset.images), Array.from(want.dataset.images));
    assert.ok(existsSync(join(raised, 'lc-adversarial.bin')));
    // a lower rate finds all of its images in a cache: no PGD, no model needed
    const q = await lc(0.25).poisonTrain(ds, { normalization, cacheDir: quarter, cacheSources: [full] });
    assert.equal(Array.from(imageBytes(q.dataset, q.poisoned[0]!)), Array.from(imageBytes(want.dataset, q.poisoned[0]!)));
    // other PGD settings are another key: nothing is copied
    const other = new LabelConsistent({ h: S, w: S, c: 3 }, { rate: 0.25, steps: 3, batchSize: 2 });
    try {
      await other.poisonTrain(ds, { normalization, cacheSources: [full] });
      assert.unreachable('other PGD settings must need the clean model');
    } catch (e) {
      assert.match((e as Error).message, /needs a clean model/);
    }
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    model.dispose();
  }
});

test('PGD increases the loss of the true label', async () => {
  const ds = synthetic(8, S, S, 3, 13);
  const model = new ResNet18({ numClasses: 10, width: 0.0625, seed: 4 });
  try {
    const labels = Int32Array.from(ds.labels);
    const adv = await pgdAttack(model, ds.images, labels, { h: S, w: S, c: 3 }, { eps: 16 / 255, alpha: 4 / 255, steps: 3, batchSize: 8, normalization });
    model.eval();
    const loss = async (img: Uint8Array) => {
      const x = new Float32Array(img.length);
      for (let i = 0; i < x.length; i++) x[i] = (img[i]! / 255 - normalization.mean[i % 3]!) / normalization.std[i % 3]!;
      const l = scope(() => crossEntropy(model.forward(tensor(x, [8, S, S, 3])), labels));
      const v = await l.item();
      l.dispose();
      return v;
    };
    const before = await loss(ds.images);
    const after = await loss(adv);
    assert.ok(after > before, `loss ${before} → ${after}`);
    for (let i = 0; i < adv.length; i++) assert.ok(Math.abs(adv[i]! - ds.images[i]!) <= 16);
  } finally {
    model.dispose();
  }
});

test.run();
