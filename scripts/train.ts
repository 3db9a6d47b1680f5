/**
 * npm run train -- --dataset fashion-mnist --model resnet18 --preset quick [options]
 * Trains a clean classifier, checkpointing every epoch (a rerun resumes), and reports the test
 * accuracy, wall time and images/s. Options override the preset: --epochs --batch-size --lr
 * --width --subset --seed --out --data-dir.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { autotune, describeTuning, init, shutdown } from '../src/index.js';
import { loadDataset } from '../src/data/registry.js';
import { subset } from '../src/data/dataset.js';
import { ResNet18 } from '../src/nn/resnet.js';
import { saveCheckpoint } from '../src/nn/checkpoint.js';
import { classifierPreset } from '../src/train/presets.js';
import { trainClassifier } from '../src/train/trainer.js';
import { Rng } from '../src/util/random.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';
const { values } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'fashion-mnist' },
    model: { type: 'string', default: 'resnet18' },
    preset: { type: 'string', default: 'quick' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    lr: { type: 'string' },
    width: { type: 'string' },
    subset: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    'data-dir': { type: 'string', default: 'data' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: npm run train -- [--dataset fashion-mnist|cifar10|folder:DIR] [--model resnet18] [--preset quick|paper] [--epochs N] [--batch-size N] [--lr X] [--width X] [--subset N] [--seed N] [--out DIR]');
  process.exit(0);
}
function num(name: string, v: string | undefined, int = true): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x) || (int && !Number.isInteger(x)) || x <= 0) throw new Error(`--${name} must be a positive ${int ? 'integer' : 'number'}, got '${v}'`);
  return x;
}

try {
  if (values.model !== 'resnet18') throw new Error(`--model: only resnet18 is available, got '${values.model}'`);
  const p = classifierPreset(values.preset!);
  p.epochs = num('epochs', values.epochs) ?? p.epochs;
  p.batchSize = num('batch-size', values['batch-size']) ?? p.batchSize;
  p.lr = num('lr', values.lr, false) ?? p.lr;
  p.width = num('width', values.width, false) ?? p.width;
  p.trainSubset = num('subset', values.subset) ?? p.trainSubset;
  p.seed = values.seed !== undefined ? Number(values.seed) : p.seed;
  const { split, normalization } = loadDataset(values.dataset!, values['data-dir']);
  let train = split.train;
  if (p.trainSubset && p.trainSubset < train.n) {
    const idx = new Rng(p.seed).shuffle(Int32Array.from({ length: train.n }, (_, i) => i)) as Int32Array;
    train = subset(train, idx.subarray(0, p.trainSubset));
  }
  const out = values.out ?? join('runs', `train-${values.dataset!.replace(/[^a-z0-9-]/gi, '_')}-${values.preset}-s${p.seed}`);
  const rtm = await init();
  console.error(`adapter: ${rtm.adapterName}`);
  console.error(describeTuning(await autotune()));
  const model = new ResNet18({ numClasses: split.train.classes.length, inChannels: train.c, width: p.width, seed: p.seed, stem: train.h >= 128 ? 'imagenet' : 'cifar' });
  console.error(`ResNet-18 width ${p.width}: ${model.parameterCount().toLocaleString()} parameters; ${train.n} training images, ${p.epochs} epochs, batch ${p.batchSize}`);
  const res = await trainClassifier(model, { train, test: split.test }, p, { normalization, outDir: out, evalEveryEpoch: true, label: 'train' });
  await saveCheckpoint(model, join(out, 'model.safetensors'), { dataset: values.dataset!, preset: values.preset!, testAccuracy: String(res.testAccuracy) });
  const summary = { dataset: values.dataset, preset: values.preset, config: p, adapter: rtm.adapterName, ...res, peakBytes: rtm.stats().peakBytesInUse };
  writeFileSync(join(out, 'result.json'), JSON.stringify(summary, null, 2));
  console.log(`test accuracy ${(100 * res.testAccuracy).toFixed(2)}% | wall ${(res.wallSeconds / 60).toFixed(1)} min | ${res.imagesPerSec.toFixed(0)} images/s | ${join(out, 'model.safetensors')}`);
  model.dispose();
  shutdown();
} catch (e) {
  console.error(`train: ${(e as Error).message}`);
  process.exit(1);
}
