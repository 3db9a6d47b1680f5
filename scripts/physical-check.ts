/**
 * npm run physical-check -- MODEL.safetensors [MODEL...] [--dataset fashion-mnist] [--width X]
 *
 * Why does PhysicalBA cost benign accuracy? Its training distorts **every** training image
 * (flip, brightness, ±10° rotation, ±10% shift and a shrink to 80-90%: docs/attacks.md, PhysicalBA), while the
 * benign test set is scored undistorted. This prints each model's accuracy on the clean test set
 * three ways: as it is (BA), with PhysicalBA's training distortions (seeded), and shrunk to 85%
 * only (the middle of the training scale range, no other change). A model that scores higher on
 * the distorted or shrunk copies than on the plain test set has learnt the training distribution
 * and pays for the shift; a model trained without the distortions shows the opposite. The
 * plain accuracy is also printed by true class, with where the errors of the weaker classes go
 * (the backdoor's target class, or the classes they resemble).
 */
import { autotune, describeTuning, init, shutdown } from '../src/index.js';
import { loadDataset } from '../src/data/registry.js';
import { newResNet } from '../src/pipeline/backdoor.js';
import { loadCheckpoint } from '../src/nn/checkpoint.js';
import { accuracy, accuracyByClass, confusionMatrix, formatByClass, formatConfusions, hits, predict } from '../src/train/evaluate.js';
import { PhysicalBA } from '../src/attacks/physical-ba.js';
import { poisonCopy, range } from '../src/attacks/common.js';
import { randomAffine } from '../src/data/geometry.js';
import { classifierPreset } from '../src/train/presets.js';
import { Rng } from '../src/util/random.js';
import { MODEL_CHECK_OPTIONS, modelFiles, num, parseArgsOrExit } from '../src/util/cli.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const USAGE = 'usage: npm run physical-check -- MODEL.safetensors [MODEL...] [--dataset fashion-mnist] [--data-dir data] [--preset quick|paper] [--width X] [--seed N] [-h|--help]';
const { values, positionals } = parseArgsOrExit('physical-check', USAGE, {
  allowPositionals: true,
  options: {
    ...MODEL_CHECK_OPTIONS,
    seed: { type: 'string', default: '123' },
    help: { type: 'boolean', short: 'h' },
  },
});
try {
  modelFiles(positionals);
  const seed = num('seed', values.seed, 'nonneg-int')!;
  const width = num('width', values.width, 'pos') ?? classifierPreset(values.preset!).width;
  const { split, normalization } = loadDataset(values.dataset!, values['data-dir']);
  const test = split.test;
  const attack = new PhysicalBA({ h: test.h, w: test.w, c: test.c });
  // the same distorted copies for every model
  const rng = new Rng(seed);
  const distorted = poisonCopy(test, `${test.name}+physical`, range(test.n), (img, k) => attack.physical(img, k, rng), null);
  const fixed = new Rng(seed + 1);
  const shrunk = poisonCopy(test, `${test.name}+scale0.85`, range(test.n), (img) => randomAffine(img, { degrees: 0, translate: [0, 0], scale: [0.85, 0.85] }, fixed, 0), null);
  const rtm = await init();
  console.error(`adapter: ${rtm.adapterName}`);
  console.error(describeTuning(await autotune()));
  console.log(`${values.dataset} test set, ${test.n} images: accuracy plain / with PhysicalBA's training distortions / shrunk to 85%`);
  for (const file of positionals) {
    // the weights come from the file: the init seed does not matter
    const model = newResNet(test, { width, seed: 0 });
    loadCheckpoint(model, file);
    const pct = (a: number) => `${(100 * a).toFixed(2)}%`;
    const plain = await predict(model, test, { normalization });
    const on = async (ds: typeof test) => pct(await accuracy(model, ds, { normalization }));
    console.log(`${file}: ${pct(hits(plain, test.labels) / test.n)} / ${await on(distorted)} / ${await on(shrunk)}`);
    // which classes the shift costs
    console.log(`  plain, by true class: ${formatByClass(accuracyByClass(plain, test))}`);
    // and where their errors go: toward the backdoor's target, or to the classes they resemble
    console.log(`  plain, errors of the classes ≥ 5% wrong: ${formatConfusions(confusionMatrix(plain, test.labels, test.classes.length), test.classes)}`);
    model.dispose();
  }
  shutdown();
} catch (e) {
  console.error(`physical-check: ${(e as Error).message}\n${USAGE}`);
  process.exitCode = 1;
}
