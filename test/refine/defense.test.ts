import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hits, predict } from '../../src/train/evaluate.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, rt, scope, tensor, type Tensor } from '../../src/index.js';
import { ResNet18 } from '../../src/nn/resnet.js';
import { loadDefendedModel, saveDefended, trainRefine, type RefineConfig } from '../../src/refine/defense.js';
import { DefendedModel } from '../../src/refine/defended.js';
import { ONE_CYCLE_DEFAULTS, oneCycleAt } from '../../src/nn/optim.js';
import { DivergedError } from '../../src/train/resume.js';
import { identityMapping, invertPermutation, randomDerangement } from '../../src/refine/mapping.js';
import { shrinkPadImage } from '../../src/refine/shrinkpad.js';
import type { ImageDataset } from '../../src/data/dataset.js';
import { Rng } from '../../src/util/random.js';
import { Module } from '../../src/nn/module.js';
import { flatten } from '../../src/ops/shape.js';
import { linear } from '../../src/ops/matmul.js';

const tmp = mkdtempSync(join(tmpdir(), 'refine-def-'));

test('random derangements have no fixed point and cover many permutations', () => {
  const rng = new Rng(1);
  const seen = new Set<string>();
  for (let t = 0; t < 300; t++) {
    const p = randomDerangement(4, rng);
    assert.ok(p.every((v, i) => v !== i), `fixed point in ${p}`);
    assert.equal([...p].sort(), [0, 1, 2, 3]);
    seen.add(p.join());
  }
  assert.is(seen.size, 9, 'all 9 derangements of 4 elements appear');
  assert.equal(Array.from(invertPermutation(Int32Array.from([2, 0, 1]))), [1, 2, 0]);
  assert.throws(() => randomDerangement(1, rng), /at least 2/);
});

test('ShrinkPad: shrinks, pads with zeros at a random offset', () => {
  const img = { data: new Uint8Array(8 * 8 * 3).fill(200), h: 8, w: 8, c: 3 };
  const rng = new Rng(2);
  const offsets = new Set<string>();
  for (let t = 0; t < 60; t++) {
    const out = shrinkPadImage(img, 2, rng);
    const zeros = Array.from(out.data).filter((v) => v === 0).length;
    assert.is(zeros, (64 - 36) * 3, 'exactly the padding is zero');
    const first = Array.from(out.data).findIndex((v) => v !== 0) / 3;
    offsets.add(`${Math.floor(first / 8)},${first % 8}`);
  }
  assert.is(offsets.size, 9, 'all (pad+1)² placements occur');
  assert.throws(() => shrinkPadImage(img, 8, rng), /does not fit/);
});

function tinyData(n: number, seed: number): ImageDataset {
  const r = new Rng(seed);
  const images = new Uint8Array(n * 16 * 16).map(() => r.int(256));
  return { name: "tiny", images, labels: new Uint8Array(n), n, h: 16, w: 16, c: 1, classes: ['a', 'b', 'c', 'd'] };
}

const cfg: RefineConfig = {
  epochs: 1,
  batchSize: 8,
  lr: 0.01,
  momentum: 0.9,
  weightDecay: 5e-4,
  milestones: [],
  gamma: 0.8,
  lambda: 0.1,
  temperature: 0.07,
  unetChannels: 4,
  utility: 'bce',
  mapping: 'derangement',
  augment: { resizedCrop: { scale: [0.8, 1] }, flip: 0.5 },
  dropLast: true,
  seed: 3,
};

test('trainRefine: runs, logs pseudo-labels/agreement, saves, resumes; the defended model reloads', async () => {
  const f = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 1 });
  const data = tinyData(24, 5);
  const out = join(tmp, 'refine');
  const before = (await Promise.all([...f.parameters()].map((p) => p.read()))).map((a) => Array.from(a));
  const r1 = await trainRefine(f, data, cfg, { normalization: { mean: [0.5], std: [0.25] }, numClasses: 4, outDir: out, quiet: true, evalSet: data });
  assert.is(r1.history.length, 1);
  assert.is(r1.steps.length, 3);
  const h = r1.history[0]!;
  assert.is(h.pseudoLabelCounts.reduce((p, v) => p + v, 0), 24);
  assert.ok(Number.isFinite(h.loss) && h.agreement >= 0 && h.agreement <= 1);
  // the curve's BA is the defended model's accuracy on the eval set, recomputed here
  const pred = await predict(r1.defended, data, { normalization: { mean: [0.5], std: [0.25] } });
  assert.is(h.benignAccuracy, hits(pred, data.labels) / data.n);
  assert.ok(r1.defended.perm.every((v, i) => v !== i));
  // the frozen classifier never changes
  const after = (await Promise.all([...f.parameters()].map((p) => p.read()))).map((a) => Array.from(a));
  assert.equal(after, before);
  // resume: a second epoch continues from the saved state with the same mapping
  const r2 = await trainRefine(f, data, { ...cfg, epochs: 2 }, { normalization: { mean: [0.5], std: [0.25] }, numClasses: 4, outDir: out, quiet: true });
  assert.is(r2.history.length, 2);
  assert.equal(Array.from(r2.defended.perm), Array.from(r1.defended.perm));
  // ... and ends exactly where an uninterrupted 2-epoch run ends (weights and momentum restored)
  const straight = await trainRefine(f, data, { ...cfg, epochs: 2 }, { normalization: { mean: [0.5], std: [0.25] }, numClasses: 4, quiet: true });
  const weights = async (m: DefendedModel) => (await Promise.all([...m.unet.parameters()].map((p) => p.read()))).map((a) => Array.from(a));
  assert.equal(await weights(r2.defended), await weights(straight.defended), 'resumed REFINE is bit-identical to the uninterrupted run');
  straight.defended.unet.dispose();
  await saveDefended(r2.defended, join(tmp, "saved"));
  const loaded = loadDefendedModel(join(tmp, 'saved'), f, { firstChannels: 4, channels: 1 });
  const x = tensor(new Float32Array(2 * 256).map((_, i) => (i % 7) / 7), [2, 16, 16, 1]);
  const [pa, pb] = scope(() => noGrad(() => [r2.defended.eval().probabilities(x), loaded.eval().probabilities(x)]));
  assert.equal(Array.from(await pa!.read()), Array.from(await pb!.read()));
  for (const t of [pa, pb, x]) t!.dispose();
  for (const m of [r1.defended.unet, r2.defended.unet, loaded.unet]) m.dispose();
  f.dispose();
});

test('trainRefine killed inside an epoch resumes from its step checkpoint, bit-identical', async () => {
  const f = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 1 });
  const data = tinyData(24, 7); // 3 steps per epoch
  const norm = { mean: [0.5], std: [0.25] };
  const two = { ...cfg, epochs: 2 };
  const straight = await trainRefine(f, data, two, { normalization: norm, numClasses: 4, quiet: true });
  const out = join(tmp, 'refine-mid');
  const saved: string[] = [];
  try {
    await trainRefine(f, data, two, {
      normalization: norm,
      numClasses: 4,
      outDir: out,
      quiet: true,
      checkpointSeconds: 0,
      onCheckpoint: (epoch, steps) => {
        saved.push(`${epoch}:${steps}`);
        if (epoch === 1 && steps === 1) throw new Error('killed');
      },
    });
    assert.unreachable('should have been killed');
  } catch (e) {
    assert.is((e as Error).message, 'killed');
  }
  // steps 1-2 of each 3-step epoch (step 3 is the epoch's own checkpoint)
  assert.equal(saved, ['0:1', '0:2', '1:1']);
  const resumed = await trainRefine(f, data, two, { normalization: norm, numClasses: 4, outDir: out, quiet: true });
  const weights = async (m: DefendedModel) => (await Promise.all([...m.unet.parameters()].map((p) => p.read()))).flatMap((a) => Array.from(a));
  const [a, b] = [await weights(resumed.defended), await weights(straight.defended)];
  assert.ok(a.length === b.length && a.every((v, i) => Object.is(v, b[i])), 'resumed REFINE is bit-identical to the uninterrupted run');
  const sums = (r: typeof straight) => r.history.map((h) => [h.loss, h.agreement, h.pseudoLabelCounts, h.predictionCounts]);
  assert.equal(sums(resumed), sums(straight));
  for (const m of [straight.defended.unet, resumed.defended.unet]) m.dispose();
  f.dispose();
});

test('the identity mapping is the "w/o HRF" ablation; λ = 0 is "w/o SCL"', async () => {
  const f = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 2 });
  const r = await trainRefine(f, tinyData(16, 6), { ...cfg, mapping: 'identity', lambda: 0, utility: 'ce' }, { normalization: null, numClasses: 4, quiet: true });
  assert.equal(Array.from(r.defended.perm), Array.from(identityMapping(4)));
  assert.ok(r.steps.every((s) => s.supcon === 0 && Number.isFinite(s.loss)));
  r.defended.unet.dispose();
  f.dispose();
  await rt().sync();
});

// pseudo-labels from the plain images (the named deviation) vs the augmented batch (official):
// a frozen "classifier" that says 0 when the left half is brighter and 1 otherwise, images 16
// left-bright / 8 right-bright, and flip(p=1): the epoch's pseudo-label counts are [16, 8, 0, 0]
// from the plain images and [8, 16, 0, 0] from the mirrored batch
class LeftRight extends Module {
  readonly weight: Tensor;
  constructor(h: number, w: number) {
    super();
    const wt = new Float32Array(4 * h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const v = x < w / 2 ? 1 : -1;
      wt[y * w + x] = v;
      wt[h * w + y * w + x] = -v;
    }
    this.weight = this.param('weight', tensor(wt, [4, h * w]));
  }
  forward(x: Tensor): Tensor {
    return linear(flatten(x), this.weight, null);
  }
}

test('pseudoLabels: plain takes them from the un-augmented images, augmented (default) from the batch', async () => {
  const f = new LeftRight(16, 16);
  const r = new Rng(12);
  const images = new Uint8Array(24 * 256).map((_, i) => {
    const img = Math.floor(i / 256), x = i % 16;
    return (img < 16 === x < 8 ? 200 : 50) + r.int(20);
  });
  const data: ImageDataset = { name: 'lr', images, labels: new Uint8Array(24), n: 24, h: 16, w: 16, c: 1, classes: ['a', 'b', 'c', 'd'] };
  const normalization = { mean: [0.5], std: [0.25] };
  const base = { ...cfg, augment: { flip: 1 }, dropLast: false };
  const p = await trainRefine(f, data, { ...base, pseudoLabels: 'plain' }, { normalization, numClasses: 4, quiet: true });
  const a = await trainRefine(f, data, base, { normalization, numClasses: 4, quiet: true });
  assert.equal(p.history[0]!.pseudoLabelCounts, [16, 8, 0, 0]);
  assert.equal(a.history[0]!.pseudoLabelCounts, [8, 16, 0, 0]);
  try {
    await trainRefine(f, data, { ...base, pseudoLabels: 'clean' as 'plain' }, { normalization, numClasses: 4, quiet: true });
    assert.unreachable('an unknown pseudoLabels value is refused');
  } catch (e) {
    assert.match((e as Error).message, /pseudoLabels must be 'augmented' or 'plain'/);
  }
  for (const m of [p.defended.unet, a.defended.unet]) m.dispose();
  f.dispose();
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test('DefendedModel renormalize: F sees (T(x) − mean) / std per channel; saved and loaded with the mapping', async () => {
  const f = new ResNet18({ numClasses: 4, inChannels: 3, width: 0.0625, seed: 3 });
  const { UNet } = await import('../../src/nn/unet.js');
  const unet = new UNet({ firstChannels: 4, channels: 3, seed: 5 });
  const norm = { mean: [0.1, 0.5, 0.9], std: [0.5, 0.25, 2] };
  const perm = Int32Array.from([1, 2, 3, 0]);
  const d = new DefendedModel(unet, f, perm, norm).eval();
  const x = tensor(new Float32Array(2 * 16 * 16 * 3).map((_, i) => ((i * 37) % 101) / 50 - 1), [2, 16, 16, 3]);
  const [got, xt, logits] = scope(() => noGrad(() => [d.probabilities(x), d.transform(x), d.classify(d.transform(x))]));
  // by hand: normalise T(x) on the host, run F, softmax, remap
  const t = (await xt!.read()) as Float32Array;
  const manual = tensor(t.map((v, i) => (v - norm.mean[i % 3]!) / norm.std[i % 3]!), [2, 16, 16, 3]);
  const ref = scope(() => noGrad(() => f.forward(manual)));
  const [a, b] = [(await logits!.read()) as Float32Array, (await ref.read()) as Float32Array];
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-4, `logit ${i}: ${a[i]} vs ${b[i]}`);
  const p = (await got!.read()) as Float32Array;
  for (let r = 0; r < 2; r++) {
    const row = Array.from(b.subarray(4 * r, 4 * r + 4));
    const mx = Math.max(...row);
    const e = row.map((v) => Math.exp(v - mx));
    const z = e.reduce((s, v) => s + v, 0);
    for (let j = 0; j < 4; j++) assert.ok(Math.abs(p[4 * r + perm[j]!]! - e[j]! / z) < 1e-5, 'M(softmax(F(norm(T(x)))))');
  }
  await saveDefended(d, join(tmp, "renorm"));
  const loaded = loadDefendedModel(join(tmp, 'renorm'), f, { firstChannels: 4, channels: 3 });
  assert.equal(loaded.renormalize, norm);
  const pl = scope(() => noGrad(() => loaded.eval().probabilities(x)));
  assert.equal(Array.from(await pl.read()), Array.from(p));
  assert.throws(() => new DefendedModel(unet, f, perm, { mean: [0.5], std: [0] }), /bad normalisation/);
  for (const v of [got, xt, logits, manual, ref, pl, x]) v!.dispose();
  unet.dispose();
  loaded.unet.dispose();
  f.dispose();
});

test('trainRefine with a one-cycle schedule and renormalize: lr per step, steps and ASR logged, resumes bit-identically', async () => {
  const f = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 1 });
  const data = tinyData(24, 9); // 3 steps per epoch
  const norm = { mean: [0.5], std: [0.25] };
  const c: RefineConfig = { ...cfg, epochs: 2, lr: 0.1, schedule: { ...ONE_CYCLE_DEFAULTS }, renormalize: true };
  const asrSet = { ...data, labels: new Uint8Array(data.n) }; // "target" 0 everywhere
  const straight = await trainRefine(f, data, c, { normalization: norm, numClasses: 4, quiet: true, evalSet: data, asrSet });
  assert.equal(straight.history.map((h) => h.stepsDone), [3, 6]);
  // the lr logged at the end of each epoch is the schedule's at its last step (steps 2 and 5 of 6)
  assert.ok(Math.abs(straight.history[0]!.lr - oneCycleAt(ONE_CYCLE_DEFAULTS, 0.1, 2, 6, 0.9).lr) < 1e-12);
  assert.ok(Math.abs(straight.history[1]!.lr - oneCycleAt(ONE_CYCLE_DEFAULTS, 0.1, 5, 6, 0.9).lr) < 1e-12);
  assert.ok(straight.history.every((h) => h.attackSuccess !== undefined && h.attackSuccess >= 0 && h.attackSuccess <= 1));
  assert.equal(straight.defended.renormalize, norm);
  // killed inside the second epoch: the resumed run lands on the same weights (lr and momentum are functions of the step)
  const out = join(tmp, 'onecycle');
  try {
    await trainRefine(f, data, c, { normalization: norm, numClasses: 4, outDir: out, quiet: true, checkpointSeconds: 0, onCheckpoint: (epoch, steps) => {
      if (epoch === 1 && steps === 1) throw new Error('killed');
    } });
    assert.unreachable('should have been killed');
  } catch (e) {
    assert.is((e as Error).message, 'killed');
  }
  const again = await trainRefine(f, data, c, { normalization: norm, numClasses: 4, outDir: out, quiet: true });
  const weights = async (m: DefendedModel) => (await Promise.all([...m.unet.parameters()].map((p) => p.read()))).flatMap((a) => Array.from(a));
  const [wa, wb] = [await weights(again.defended), await weights(straight.defended)];
  assert.ok(wa.length === wb.length && wa.every((v, i) => Object.is(v, wb[i])), 'resumed one-cycle REFINE is bit-identical to the uninterrupted run');
  for (const m of [straight.defended.unet, again.defended.unet]) m.dispose();
  f.dispose();
});

test('trainRefine that diverges (lr 1e30) stops with DivergedError and writes no UNet', async () => {
  const f = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 1 });
  const out = join(tmp, 'diverged');
  let err: Error | null = null;
  try {
    await trainRefine(f, tinyData(24, 11), { ...cfg, epochs: 2, lr: 1e30 }, { normalization: { mean: [0.5], std: [0.25] }, numClasses: 4, outDir: out, quiet: true, checkpointSeconds: Infinity });
  } catch (e) {
    err = e as Error;
  }
  assert.ok(err instanceof DivergedError, `expected DivergedError, got ${err?.message}`);
  assert.match(err!.message, /(REFINE epoch 1 step \d: the loss is|diverged: \S+ holds (NaN|-?Infinity)).*training diverged and was stopped/);
  const { existsSync } = await import('node:fs');
  assert.not.ok(existsSync(join(out, 'unet-last.safetensors')));
  f.dispose();
});

test.run();
