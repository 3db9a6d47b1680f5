// Screening for the augmentation guard: does a random rotation by U(-D, D) degrees (nearest, black fill; BATT's
// own rotation code) move REFINE's pseudo-labels onto one class? Label-free, on the seven committed
// backdoored models. Run from the repository root: npx tsx docs/recipe-search/rotation-probe.ts 20
import { init, shutdown } from '../../src/index.js';
import { loadDataset } from '../../src/data/registry.js';
import { loadCheckpoint } from '../../src/nn/checkpoint.js';
import { compareLabels, augmentationFiresBackdoor } from '../../src/refine/diagnostics.js';
import { refinePreset } from '../../src/pipeline/refine-presets.js';
import { seededSubset } from '../../src/data/dataset.js';
import { newResNet } from '../../src/pipeline/backdoor.js';
import { predict } from '../../src/train/evaluate.js';
import { rotateNearest } from '../../src/data/geometry.js';
import { Rng } from '../../src/util/random.js';
const { split, normalization } = loadDataset('fashion-mnist', 'data');
const refine = refinePreset('budget', { h: 28, w: 28, c: 1 }, 666);
const data = seededSubset(split.train, refine.trainSubset, 666 + 17);
const plain = seededSubset(data, 1000, 666 + 47);
await init();
const maxDeg = Number(process.argv[2] ?? 20);
const rng = new Rng(5);
const px = 28 * 28;
const images = new Uint8Array(plain.n * px);
for (let i = 0; i < plain.n; i++) {
  const img = { data: plain.images.subarray(i * px, (i + 1) * px), h: 28, w: 28, c: 1 };
  images.set(rotateNearest(img, (2 * rng.next() - 1) * maxDeg).data, i * px);
}
const rot = { ...plain, images };
for (const a of ['badnets', 'blended', 'wanet', 'physicalba', 'batt', 'lc', 'adaptive']) {
  const model = newResNet(split.train, { width: 0.25, seed: 666 });
  loadCheckpoint(model, `results/backdoored/attack-${a}-fashion-mnist-quick-s666/model.safetensors`);
  const c = compareLabels(await predict(model, plain, { normalization }), await predict(model, rot, { normalization }), 10);
  console.log(`${a.padEnd(11)} rotate ±${maxDeg}°: changed ${(100 * c.changed).toFixed(1)}%, top ${c.topChangedTo} (${(100 * c.topChangedToShare).toFixed(0)}%), rise +${(100 * c.maxShareRise).toFixed(1)} (class ${c.maxShareRiseClass}), target share ${(100 * c.plainShares[0]!).toFixed(1)} -> ${(100 * c.augmentedShares[0]!).toFixed(1)}, fires ${augmentationFiresBackdoor(c)}`);
  model.dispose();
}
shutdown();
