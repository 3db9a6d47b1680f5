/**
 * Black-box REFINE end to end on tiny models: one query per unlabeled image for the distillation,
 * REFINE against the surrogate, and the deployed defense M(F(quantise(T(x)))) in front of the
 * black box, which must agree with the same UNet and mapping in front of the black box's own
 * model up to the 8-bit quantisation of T(x). The refit: one query per T(x), the surrogate
 * distilled further on both, REFINE's last epochs continued from the finished UNet and mapping.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { noGrad, scope, tensor } from '../../src/index.js';
import { ResNet18 } from '../../src/nn/resnet.js';
import type { Module } from '../../src/nn/module.js';
import { moduleBlackBox } from '../../src/train/blackbox.js';
import { blackBoxRefine } from '../../src/refine/blackbox-defense.js';
import { refitBlackBox } from '../../src/refine/blackbox-refit.js';
import { trainRefine } from '../../src/refine/train.js';
import { DefendedModel } from '../../src/refine/defended.js';
import { batches } from '../../src/data/loader.js';
import type { ImageDataset } from '../../src/data/dataset.js';
import type { RefineConfig } from '../../src/refine/train.js';
import { Rng } from '../../src/util/random.js';
import { folderStore } from '../../src/train/resume.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function data(n: number): ImageDataset {
  const rng = new Rng(5);
  const images = Uint8Array.from({ length: n * 256 }, () => Math.floor(rng.next() * 256));
  return { name: 'noise', images, labels: new Uint8Array(n), n, h: 16, w: 16, c: 1, classes: ['a', 'b', 'c', 'd'] };
}

const norm = { mean: [0.5], std: [0.25] };
const refine: RefineConfig = {
  epochs: 1, batchSize: 16, lr: 0.01, momentum: 0.9, weightDecay: 5e-4, milestones: [], gamma: 1, lambda: 0.1, temperature: 0.07,
  unetChannels: 4, utility: 'bce', mapping: 'derangement', augment: {}, dropLast: true, seed: 1, renormalize: true,
};
const distill = { epochs: 1, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 0, milestones: [], gamma: 1, augment: {}, seed: 0 };

test('black-box REFINE: queries counted, the defense in front of the black box equals the UNet + mapping in front of its model up to quantisation', async () => {
  const ds = data(32);
  const model = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 1 });
  const bb = moduleBlackBox(model, 4, norm);
  const surrogate = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 2 });
  const r = await blackBoxRefine(bb, surrogate, ds, distill, refine, { normalization: norm, quiet: true });
  assert.is(r.distillQueries, 32);
  assert.is(r.distill.length, 1);
  assert.is(r.refine.length, 1);
  const p = await r.defense.probabilities(ds);
  assert.is(bb.queries, 64, 'the evaluation queried each image once more');
  // the same UNet and mapping in front of the black box's own model, without quantisation
  const white = new DefendedModel(r.defense.unet, model, r.defense.perm, norm).eval();
  const b = batches(ds, 0, { batchSize: 32, normalization: norm }).next().value!;
  const q = noGrad(() => scope(() => white.probabilities(tensor(b.x, b.shape))));
  const qv = (await q.read()) as Float32Array;
  q.dispose();
  const diff = Math.max(...Array.from(p, (v, i) => Math.abs(v - qv[i]!)));
  assert.ok(diff < 0.05, `max probability difference ${diff}`);
  // the control: another mapping in front of the same model is far from it (the check could fail)
  const rotated = Int32Array.from(r.defense.perm, (c) => (c + 1) % 4);
  const other = new DefendedModel(r.defense.unet, model, rotated, norm).eval();
  const o = noGrad(() => scope(() => other.probabilities(tensor(b.x, b.shape))));
  const ov = (await o.read()) as Float32Array;
  o.dispose();
  const far = Math.max(...Array.from(p, (v, i) => Math.abs(v - ov[i]!)));
  assert.ok(far > 4 * diff && far > 0.05, `another mapping: max probability difference ${far} (the defense's ${diff})`);
  assert.is((await r.defense.predict(ds)).length, 32);
  try {
    await blackBoxRefine(bb, surrogate, ds, distill, { ...refine, renormalize: false }, { normalization: norm, quiet: true });
    assert.unreachable('renormalize is required');
  } catch (e) {
    assert.match((e as Error).message, /must train with renormalize/);
  }
  for (const m of [model, surrogate, r.defense.unet]) m.dispose();
});

test('black-box refit: one query per T(x), the surrogate refitted, REFINE continued from the finished UNet in the schedule', async () => {
  const ds = data(32);
  const model = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 1 });
  const bb = moduleBlackBox(model, 4, norm);
  const surrogate = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 2 });
  const cfg = { ...refine, epochs: 3 };
  const r = await blackBoxRefine(bb, surrogate, ds, distill, cfg, { normalization: norm, quiet: true });
  const queried = bb.queries;
  const before = (await [...surrogate.parameters()].at(-2)!.read()) as Float32Array;
  const unetBefore = (await r.defense.unet.stateDict().values().next().value!.read()) as Float32Array;
  let saved: Float32Array | undefined;
  const keep = async (t: ImageDataset) => (saved = await bb.query({ images: t.images, n: t.n, h: t.h, w: t.w, c: t.c }));
  // the refit's REFINE configuration is chosen from the refitted surrogate (the pipeline's guard)
  let configuredWith: unknown;
  let trainedAtConfigure: Float32Array | undefined;
  const configure = async (s: Module) => {
    configuredWith = s;
    trainedAtConfigure = (await [...s.parameters()].at(-2)!.read()) as Float32Array;
    return cfg;
  };
  const f = await refitBlackBox(bb, surrogate, ds, r.teacher, r.defense, cfg, distill, { refineEpochs: 1, distillEpochs: 2, distillLr: 0.02 }, { normalization: norm, quiet: true, query: keep, configure });
  assert.ok(configuredWith === surrogate);
  assert.ok(trainedAtConfigure!.some((v, i) => v !== before[i]), 'configure sees the refitted surrogate');
  assert.is(f.queries, 32);
  assert.is(bb.queries, queried + 32, 'T(x) of each unlabeled image queried once');
  assert.is(saved!.length, 32 * 4);
  assert.is(f.distill.length, 2);
  assert.ok(f.agreementBefore >= 0 && f.agreementBefore <= 1 && f.agreementAfter >= 0 && f.agreementAfter <= 1);
  const after = (await [...surrogate.parameters()].at(-2)!.read()) as Float32Array;
  assert.ok(after.some((v, i) => v !== before[i]), 'the surrogate was trained further');
  assert.equal(f.refine.map((l) => l.epoch), [3], 'only the last epoch of the schedule again');
  assert.equal(Array.from(f.defense.perm), Array.from(r.defense.perm));
  assert.is(f.defense.unet === r.defense.unet, false);
  const unetAfter = (await r.defense.unet.stateDict().values().next().value!.read()) as Float32Array;
  assert.equal(Array.from(unetAfter), Array.from(unetBefore), 'the finished UNet is left as it was');
  // answers kept by the caller are not queried again
  const g = await refitBlackBox(bb, surrogate, ds, r.teacher, r.defense, cfg, distill, { refineEpochs: 3, distillEpochs: 1, distillLr: 0.02 }, { normalization: norm, quiet: true, query: async () => saved! });
  assert.is(g.queries, 0);
  assert.is(bb.queries, queried + 32);
  assert.equal(g.refine.map((l) => l.epoch), [1, 2, 3]);
  try {
    await refitBlackBox(bb, surrogate, ds, r.teacher, r.defense, cfg, distill, { refineEpochs: 4, distillEpochs: 1, distillLr: 0.02 }, { normalization: norm, quiet: true });
    assert.unreachable('more refit epochs than REFINE has');
  } catch (e) {
    assert.match((e as Error).message, /refit: its REFINE epochs must be an integer in \[1, 3\]/);
  }
  try {
    await refitBlackBox(bb, surrogate, ds, r.teacher, r.defense, cfg, distill, { refineEpochs: 1, distillEpochs: 1, distillLr: 0.02 }, { normalization: norm, quiet: true, query: async () => saved!, configure: async () => ({ ...cfg, epochs: 5 }) });
    assert.unreachable('a configuration with another schedule length');
  } catch (e) {
    assert.match((e as Error).message, /refit: its REFINE configuration has 5 epochs, the finished run 3/);
  }
  for (const m of [model, surrogate, r.defense.unet, f.defense.unet, g.defense.unet]) m.dispose();
});

test('REFINE warm start: the given UNet and mapping, the schedule from the given epoch', async () => {
  const ds = data(32);
  const model = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 1 }).eval();
  const cfg = { ...refine, epochs: 3, lr: 1e-9, momentum: 0, weightDecay: 0 };
  const first = await trainRefine(model, ds, cfg, { normalization: norm, numClasses: 4, quiet: true });
  // at lr 1e-9 one epoch leaves the warm-started UNet's weights where they started
  const perm = Int32Array.from([3, 2, 1, 0]);
  const w = await trainRefine(model, ds, { ...cfg, seed: 9 }, { normalization: norm, numClasses: 4, quiet: true, warmStart: { unet: first.defended.unet, perm, epochsDone: 2 } });
  assert.equal(w.history.map((l) => l.epoch), [3]);
  assert.equal(Array.from(w.defended.perm), [3, 2, 1, 0]);
  const a = (await first.defended.unet.stateDict().values().next().value!.read()) as Float32Array;
  const b = (await w.defended.unet.stateDict().values().next().value!.read()) as Float32Array;
  const fresh = await trainRefine(model, ds, { ...cfg, seed: 9 }, { normalization: norm, numClasses: 4, quiet: true });
  const c = (await fresh.defended.unet.stateDict().values().next().value!.read()) as Float32Array;
  const maxDiff = (x: Float32Array, y: Float32Array) => Math.max(...Array.from(x, (v, i) => Math.abs(v - y[i]!)));
  assert.ok(maxDiff(a, b) < 1e-6, `warm-started weights moved ${maxDiff(a, b)}`);
  assert.ok(maxDiff(a, c) > 1e-3, 'a fresh UNet of that seed differs (the comparison could fail)');
  try {
    await trainRefine(model, ds, cfg, { normalization: norm, numClasses: 4, quiet: true, warmStart: { unet: first.defended.unet, perm, epochsDone: 3 } });
    assert.unreachable('a warm start past the schedule');
  } catch (e) {
    assert.match((e as Error).message, /warm start: epochsDone must be an integer in \[0, 3\)/);
  }
  for (const m of [model, first.defended.unet, w.defended.unet, fresh.defended.unet]) m.dispose();
});

test('REFINE warm start killed inside an epoch resumes from its checkpoint, not from the warm start again: bit-identical', async () => {
  const ds = data(48); // 3 steps per epoch
  const model = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 1 }).eval();
  const cfg = { ...refine, epochs: 3 };
  const first = await trainRefine(model, ds, cfg, { normalization: norm, numClasses: 4, quiet: true });
  const warmStart = { unet: first.defended.unet, perm: first.defended.perm, epochsDone: 1 };
  const straight = await trainRefine(model, ds, cfg, { normalization: norm, numClasses: 4, quiet: true, warmStart });
  const dir = mkdtempSync(join(tmpdir(), 'warm-'));
  const store = () => folderStore(dir, { model: 'unet-last.safetensors', optimizer: 'unet-last-optimizer.safetensors', state: 'refine-state.json' });
  try {
    await trainRefine(model, ds, cfg, { normalization: norm, numClasses: 4, quiet: true, warmStart, store: store(), checkpointSeconds: 0, onCheckpoint: (epoch, steps) => {
      if (epoch === 2 && steps === 1) throw new Error('killed');
    } });
    assert.unreachable('should have been killed');
  } catch (e) {
    assert.is((e as Error).message, 'killed');
  }
  // resumed with another warm start: the checkpoint wins (a restart from this UNet and mapping would end elsewhere)
  const other = { unet: straight.defended.unet, perm: Int32Array.from([3, 2, 1, 0]), epochsDone: 0 };
  const resumed = await trainRefine(model, ds, cfg, { normalization: norm, numClasses: 4, quiet: true, warmStart: other, store: store() });
  assert.equal(resumed.history.map((h) => h.epoch), [2, 3]);
  assert.equal(Array.from(resumed.defended.perm), Array.from(first.defended.perm));
  const weights = async (u: typeof first.defended.unet) => (await Promise.all([...u.parameters()].map((p) => p.read()))).flatMap((a) => Array.from(a));
  const [a, b] = [await weights(resumed.defended.unet), await weights(straight.defended.unet)];
  assert.ok(a.length === b.length && a.every((v, i) => Object.is(v, b[i])), 'the resumed warm start is bit-identical to the uninterrupted one');
  for (const m of [model, first.defended.unet, straight.defended.unet, resumed.defended.unet]) m.dispose();
});

test.run();
