/**
 * npm run train -- --dataset fashion-mnist --model resnet18 --preset quick [options]
 * Trains a clean classifier, checkpointing every epoch (a rerun resumes), and reports the test
 * accuracy, wall time and images/s. Options override the preset: --epochs --batch-size --lr
 * --width --subset --seed --milestones --gamma --out --data-dir.
 */
import { existsSync } from 'node:fs';
import { readJson, writeJsonAtomic } from '../src/util/files.js';
import { join } from 'node:path';
import { autotune, describeTuning, init, shutdown } from '../src/index.js';
import { loadDataset } from '../src/data/registry.js';
import { newResNet } from '../src/pipeline/backdoor.js';
import { saveCheckpoint } from '../src/nn/checkpoint.js';
import { classifierPreset, withClassifierOverrides } from '../src/train/presets.js';
import { trainSubsetOf } from '../src/pipeline/backdoor.js';
import { trainRunDir } from '../src/pipeline/run-folders.js';
import { FOLDER_OPTIONS, FOLDER_USAGE, folderFlags, parseArgsOrExit } from '../src/util/cli.js';
import { CLASSIFIER_OPTIONS, CLASSIFIER_USAGE, classifierFlags } from '../src/train/classifier-flags.js';
import { trainClassifier } from '../src/train/trainer.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';
const USAGE = `usage: npm run train -- [--dataset fashion-mnist|cifar10|folder:DIR] [--model resnet18] [--preset quick|paper]
  [--seed N] [--out DIR] [--data-dir DIR]
classifier recipe (the preset's unless given):
${CLASSIFIER_USAGE}
image folders:
${FOLDER_USAGE}`;
const { values } = parseArgsOrExit('train', USAGE, {
  options: {
    dataset: { type: 'string', default: 'fashion-mnist' },
    model: { type: 'string', default: 'resnet18' },
    preset: { type: 'string', default: 'quick' },
    ...CLASSIFIER_OPTIONS,
    ...FOLDER_OPTIONS,
    out: { type: 'string' },
    'data-dir': { type: 'string', default: 'data' },
    help: { type: 'boolean', short: 'h' },
  },
});

try {
  if (values.model !== 'resnet18') throw new Error(`--model: only resnet18 is available, got '${values.model}'`);
  const p = withClassifierOverrides(classifierPreset(values.preset!), classifierFlags(values));
  const out = values.out ?? trainRunDir(values.dataset!, values.preset!, p.seed);
  // a finished run is reported, never retrained or rewritten
  const prev = readJson<{ dataset: string; config: unknown; testAccuracy: number }>(join(out, 'result.json'));
  if (prev && existsSync(join(out, 'model.safetensors'))) {
    if (prev.dataset !== values.dataset || JSON.stringify(prev.config) !== JSON.stringify(p)) throw new Error(`${out} holds a finished run of another configuration: use another --out or delete it`);
    console.log(`finished run in ${out}: test accuracy ${(100 * prev.testAccuracy).toFixed(2)}% (reported as it is; ${join(out, 'model.safetensors')})`);
    process.exit(0);
  }
  const { split, normalization } = loadDataset(values.dataset!, values['data-dir'], folderFlags(values));
  const train = trainSubsetOf(split.train, p);
  const rtm = await init();
  console.error(`adapter: ${rtm.adapterName}`);
  console.error(describeTuning(await autotune()));
  const model = newResNet(split.train, p);
  console.error(`ResNet-${p.depth ?? 18} width ${p.width}: ${model.parameterCount().toLocaleString()} parameters; ${train.n} training images, ${p.epochs} epochs, batch ${p.batchSize}`);
  const res = await trainClassifier(model, { train, test: split.test }, p, { normalization, outDir: out, evalEveryEpoch: true, label: 'train' });
  await saveCheckpoint(model, join(out, 'model.safetensors'), { dataset: values.dataset!, preset: values.preset!, testAccuracy: String(res.testAccuracy) });
  const summary = { dataset: values.dataset, preset: values.preset, config: p, adapter: rtm.adapterName, ...res, peakBytes: rtm.stats().peakBytesInUse };
  writeJsonAtomic(join(out, 'result.json'), summary);
  console.log(`test accuracy ${(100 * res.testAccuracy).toFixed(2)}% | wall ${(res.wallSeconds / 60).toFixed(1)} min | ${res.imagesPerSec.toFixed(0)} images/s | ${join(out, 'model.safetensors')}`);
  model.dispose();
  shutdown();
} catch (e) {
  console.error(`train: ${(e as Error).message}`);
  process.exit(1);
}
