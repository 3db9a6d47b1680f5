/**
 * Black-box REFINE end to end on tiny models: one query per unlabeled image for the distillation,
 * REFINE against the surrogate, and the deployed defense M(F(quantise(T(x)))) in front of the
 * black box, which must agree with the same UNet and mapping in front of the black box's own
 * model up to the 8-bit quantisation of T(x).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { noGrad, scope, tensor } from '../../src/index.js';
import { ResNet18 } from '../../src/nn/resnet.js';
import { moduleBlackBox } from '../../src/train/blackbox.js';
import { blackBoxRefine } from '../../src/refine/blackbox-defense.js';
import { DefendedModel } from '../../src/refine/defended.js';
import { batches } from '../../src/data/loader.js';
import type { ImageDataset } from '../../src/data/dataset.js';
import type { RefineConfig } from '../../src/refine/train.js';
import { Rng } from '../../src/util/random.js';

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
  assert.is((await r.defense.predict(ds)).length, 32);
  try {
    await blackBoxRefine(bb, surrogate, ds, distill, { ...refine, renormalize: false }, { normalization: norm, quiet: true });
    assert.unreachable('renormalize is required');
  } catch (e) {
    assert.match((e as Error).message, /must train with renormalize/);
  }
  for (const m of [model, surrogate, r.defense.unet]) m.dispose();
});

test.run();
