/**
 * The adaptive attack's fine-tuning on tiny data: both losses finite and logged, and the model's
 * weights change in place while the attacker's UNet learns (its REFINE loss falls).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ResNet18 } from '../../src/nn/resnet.js';
import { adaptiveFineTune, type AdaptiveConfig } from '../../src/refine/adaptive.js';
import type { ImageDataset } from '../../src/data/dataset.js';
import { Rng } from '../../src/util/random.js';

function data(n: number): ImageDataset {
  const rng = new Rng(7);
  const images = Uint8Array.from({ length: n * 256 }, () => Math.floor(rng.next() * 256));
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 4);
  return { name: 'noise', images, labels, n, h: 16, w: 16, c: 1, classes: ['a', 'b', 'c', 'd'] };
}

const cfg: AdaptiveConfig = {
  epochs: 3, batchSize: 16, lr: 0.02, momentum: 0.9, weightDecay: 0, milestones: [], gamma: 1, refineWeight: 1, unetChannels: 4,
  renormalize: true, augment: {}, seed: 3, lambda: 0.1, temperature: 0.07, utility: 'bce',
};
const norm = { mean: [0.5], std: [0.25] };

async function weights(m: ResNet18): Promise<number[]> {
  return (await Promise.all([...m.parameters()].map(async (p) => Array.from((await p.read()) as Float32Array)))).flat();
}

test('adaptive fine-tuning: the model changes in place and the attacker\'s REFINE loss falls', async () => {
  const m = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 1 });
  const before = await weights(m);
  const log = await adaptiveFineTune(m, data(48), cfg, { normalization: norm, numClasses: 4, quiet: true });
  assert.is(log.length, 3);
  assert.ok(log.every((l) => Number.isFinite(l.backdoorLoss) && Number.isFinite(l.refineLoss)));
  assert.ok(log[2]!.refineLoss < log[0]!.refineLoss, `L_refine ${log.map((l) => l.refineLoss.toFixed(4))}`);
  const after = await weights(m);
  assert.ok(after.some((v, i) => v !== before[i]), 'the model was fine-tuned in place');
  assert.ok(m.parameters().next().value!.requiresGrad !== false, 'the model is not frozen');
  m.dispose();
});

test.run();
