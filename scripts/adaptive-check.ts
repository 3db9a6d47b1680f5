/**
 * npm run adaptive-check -- MODEL.safetensors [MODEL...] [--dataset fashion-mnist] [--images N]
 *
 * Where does an Adaptive-Patch model's backdoor stand? The attack (docs/attacks.md, Adaptive-Patch) trains on 1% poison
 * images (label → target) and 2% cover images (label kept) carrying four weak patch triggers
 * (α 0.5 / 0.5 / 0.2 / 0.3, one per sample, round-robin) and tests with the first two triggers
 * stacked at α = 1. This prints, per model:
 * - the ASR of the test trigger pair (the attack's ASR) and of each trigger alone, at its training
 *   α and at α = 1, on the first N (default 1,000) non-target test images;
 * - how the model classifies its own poisoned training images (share predicted as the target:
 *   did it fit them?) and the cover images (share keeping their true label).
 * A model that fits the poison images but scores a low ASR has memorised them rather than learnt
 * the trigger; one that does neither has not picked the backdoor up at all.
 */
import { autotune, describeTuning, init, shutdown } from '../src/index.js';
import { loadDataset } from '../src/data/registry.js';
import { subset, type ImageDataset } from '../src/data/dataset.js';
import { newResNet } from '../src/pipeline/backdoor.js';
import { loadCheckpoint } from '../src/nn/checkpoint.js';
import { accuracy } from '../src/train/evaluate.js';
import { AdaptivePatch, ADAPTIVE_DEFAULTS } from '../src/attacks/adaptive-patch.js';
import type { Image } from '../src/data/augment.js';
import { poisonTestSet } from '../src/attacks/common.js';
import { classifierPreset } from '../src/train/presets.js';
import { MODEL_CHECK_OPTIONS, modelFiles, num, parseArgsOrExit } from '../src/util/cli.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const USAGE =
  'usage: npm run adaptive-check -- MODEL.safetensors [MODEL...] [--dataset fashion-mnist] [--data-dir data] [--preset quick|paper] [--width X] [--target N] [--seed N] [--rate X] [--cover-rate X] [--images N] [-h|--help]';
const { values, positionals } = parseArgsOrExit('adaptive-check', USAGE, {
  allowPositionals: true,
  options: {
    ...MODEL_CHECK_OPTIONS,
    target: { type: 'string', default: '0' },
    // the attack's seed: it picks the poison and cover images
    seed: { type: 'string', default: String(ADAPTIVE_DEFAULTS.seed) },
    // the attack's rates (the model's run must have used the same: they pick the images)
    rate: { type: 'string', default: String(ADAPTIVE_DEFAULTS.poisonRate) },
    'cover-rate': { type: 'string', default: String(ADAPTIVE_DEFAULTS.coverRate) },
    images: { type: 'string', default: '1000' },
    help: { type: 'boolean', short: 'h' },
  },
});
try {
  modelFiles(positionals);
  const target = num('target', values.target, 'nonneg-int')!;
  const seed = num('seed', values.seed, 'nonneg-int')!;
  const images = num('images', values.images, 'int')!;
  const width = num('width', values.width, 'pos') ?? classifierPreset(values.preset!).width;
  const { split, normalization } = loadDataset(values.dataset!, values['data-dir']);
  const { train, test } = split;
  const poisonRate = num('rate', values.rate, 'rate')!;
  const coverRate = num('cover-rate', values['cover-rate'], 'rate')!;
  const attack = new AdaptivePatch({ h: test.h, w: test.w, c: test.c }, { target, seed, poisonRate, coverRate });
  const alphas = attack.opts.trainAlphas;

  // triggered copies of the first N non-target test images, labelled as the target (accuracy = ASR)
  const triggered = (name: string, trigger: (img: Image) => Image): [string, ImageDataset] => [name, poisonTestSet(attack, test, { trigger, limit: images, name })];
  const asrSets: [string, ImageDataset][] = [
    triggered(`test pair (${attack.opts.testTriggers.join(' then ')}) at α ${attack.opts.testAlpha}`, (img) => attack.applyTestTrigger(img)),
    ...alphas.map((a, k) => triggered(`trigger ${k} at its training α ${a}`, (img) => attack.applyTrigger(img, k, a))),
    ...alphas.map((_, k) => triggered(`trigger ${k} at α 1`, (img) => attack.applyTrigger(img, k, 1))),
  ];
  // the training set as the attack poisoned it: poison images carry the target label, cover images their own
  const poisoned = await attack.poisonTrain(train);
  const poisonSet = subset(poisoned.dataset, poisoned.poisoned);
  const coverSet = subset(poisoned.dataset, poisoned.cover);

  const rtm = await init();
  console.error(`adapter: ${rtm.adapterName}`);
  console.error(describeTuning(await autotune()));
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  for (const file of positionals) {
    // the weights come from the file: the init seed does not matter
    const model = newResNet(test, { width, seed: 0 });
    loadCheckpoint(model, file);
    console.log(`${file}:`);
    for (const [name, ds] of asrSets) console.log(`  ASR, ${name} (${ds.n} non-target test images): ${pct(await accuracy(model, ds, { normalization }))}`);
    console.log(`  poison training images classified as the target: ${pct(await accuracy(model, poisonSet, { normalization }))} of ${poisonSet.n}`);
    console.log(`  cover training images keeping their label: ${pct(await accuracy(model, coverSet, { normalization }))} of ${coverSet.n}`);
    model.dispose();
  }
  shutdown();
} catch (e) {
  console.error(`adaptive-check: ${(e as Error).message}\n${USAGE}`);
  process.exitCode = 1;
}
