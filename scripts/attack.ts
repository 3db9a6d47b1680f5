/**
 * npm run attack -- --attack wanet --dataset fashion-mnist --preset quick [options]
 *
 * Trains a backdoored classifier (spec §3): poisons the training set with the attack, trains
 * ResNet-18 with the preset's recipe (checkpointing every epoch: a rerun resumes), and reports
 * BA (clean test accuracy) and ASR (share of triggered non-target test images classified as the
 * target). Label-Consistent first trains (or reuses, cached under runs/benign-...) a benign model
 * for its PGD step. Writes to --out (default runs/attack-<attack>-<dataset>-<preset>-s<seed>):
 * model.safetensors, attack.json (attack parameters, seeds, triggers, poisoned indices),
 * examples.png (clean vs poisoned examples), result.json (BA, ASR, wall time, config).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { init, shutdown } from '../src/index.js';
import { attacks, type LcContext } from '../src/attacks/index.js';
import { writeExamples } from '../src/attacks/examples.js';
import { loadDataset } from '../src/data/registry.js';
import { subset, type ImageDataset, type Normalization } from '../src/data/dataset.js';
import { ResNet18 } from '../src/nn/resnet.js';
import { loadCheckpoint, saveCheckpoint } from '../src/nn/checkpoint.js';
import { classifierPreset, type ClassifierPreset } from '../src/train/presets.js';
import { configHash, trainClassifier } from '../src/train/trainer.js';
import { accuracy } from '../src/train/evaluate.js';
import { Rng } from '../src/util/random.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const USAGE = `usage: npm run attack -- --attack <${attacks.names().join('|')}> [--dataset fashion-mnist|cifar10|folder:DIR]
  [--preset quick|paper] [--target N] [--seed N] [--out DIR] [--data-dir DIR]
  [--epochs N] [--batch-size N] [--lr X] [--width X] [--subset N]
  [--rate X] (poison rate; Adaptive-Patch: poison rate, --cover-rate X)
  [--wanet-k N] [--wanet-noise] [--pgd-steps N] [--lc-init benign|scratch] [--benign-dir DIR]`;

const OPTIONS = {
    attack: { type: 'string' },
    dataset: { type: 'string', default: 'fashion-mnist' },
    preset: { type: 'string', default: 'quick' },
    target: { type: 'string', default: '0' },
    seed: { type: 'string' },
    out: { type: 'string' },
    'data-dir': { type: 'string', default: 'data' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    lr: { type: 'string' },
    width: { type: 'string' },
    subset: { type: 'string' },
    rate: { type: 'string' },
    'cover-rate': { type: 'string' },
    'wanet-k': { type: 'string' },
    'wanet-noise': { type: 'boolean' },
    'pgd-steps': { type: 'string' },
    'lc-init': { type: 'string', default: 'benign' },
    'benign-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
} as const;
let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
try {
  values = parseArgs({ options: OPTIONS }).values;
} catch (e) {
  console.error(`attack: ${(e as Error).message}\n${USAGE}`);
  process.exit(1);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function num(name: string, v: string | undefined, kind: 'int' | 'pos' | 'rate' | 'nonneg-int'): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  const ok =
    v.trim() !== '' &&
    Number.isFinite(x) &&
    (kind === 'int' ? Number.isInteger(x) && x > 0 : kind === 'nonneg-int' ? Number.isInteger(x) && x >= 0 : kind === 'rate' ? x >= 0 && x <= 1 : x > 0);
  const what = { int: 'a positive integer', 'nonneg-int': 'an integer ≥ 0', rate: 'a number in [0, 1]', pos: 'a positive number' }[kind];
  if (!ok) throw new Error(`--${name} must be ${what}, got '${v}'`);
  return x;
}

/** The benign model LC attacks with PGD: trained once per configuration, cached. */
async function benignModel(p: ClassifierPreset, train: ImageDataset, test: ImageDataset, normalization: Normalization, dataset: string, preset: string, dirOverride?: string): Promise<{ model: ResNet18; id: string; file: string }> {
  const hash = configHash({ p, n: train.n, ds: train.name, dataset });
  const dir = dirOverride ?? join('runs', `benign-${dataset.replace(/[^a-z0-9-]/gi, '_')}-${preset}-s${p.seed}-${hash.slice(0, 8)}`);
  const file = join(dir, 'model.safetensors');
  const model = new ResNet18({ numClasses: train.classes.length, inChannels: train.c, width: p.width, seed: p.seed, stem: train.h >= 128 ? 'imagenet' : 'cifar' });
  if (existsSync(file)) {
    const meta = loadCheckpoint(model, file);
    console.error(`LC: benign model from ${file} (test accuracy ${meta.testAccuracy ?? '?'})`);
    return { model, id: `${file}:${meta.testAccuracy ?? ''}`, file };
  }
  console.error(`LC: training the benign model in ${dir}`);
  const res = await trainClassifier(model, { train, test }, p, { normalization, outDir: dir, evalEveryEpoch: true, label: 'benign' });
  await saveCheckpoint(model, file, { dataset, preset, testAccuracy: String(res.testAccuracy) });
  writeFileSync(join(dir, 'result.json'), JSON.stringify({ dataset, preset, config: p, ...res }, null, 2));
  console.error(`LC: benign model test accuracy ${(100 * res.testAccuracy).toFixed(2)}%`);
  return { model, id: `${file}:${res.testAccuracy}`, file };
}

const t0 = performance.now();
try {
  if (!values.attack) throw new Error(`--attack is required\n${USAGE}`);
  const factory = attacks.get(values.attack);
  const p = classifierPreset(values.preset!);
  p.epochs = num('epochs', values.epochs, 'int') ?? p.epochs;
  p.batchSize = num('batch-size', values['batch-size'], 'int') ?? p.batchSize;
  p.lr = num('lr', values.lr, 'pos') ?? p.lr;
  p.width = num('width', values.width, 'pos') ?? p.width;
  p.trainSubset = num('subset', values.subset, 'int') ?? p.trainSubset;
  p.seed = num('seed', values.seed, 'nonneg-int') ?? p.seed;
  const target = num('target', values.target, 'nonneg-int')!;
  if (!['benign', 'scratch'].includes(values['lc-init']!)) throw new Error(`--lc-init must be benign or scratch, got '${values['lc-init']}'`);

  // attack options from the flags (each only where the attack has it)
  const opts: Record<string, unknown> = { target, seed: p.seed };
  const rate = num('rate', values.rate, 'rate');
  const cover = num('cover-rate', values['cover-rate'], 'rate');
  const only = (flag: string, names: string[]) => {
    if (!names.includes(factory.name)) throw new Error(`--${flag} applies to ${names.join(', ')} only, not ${factory.name}`);
  };
  if (rate !== undefined) opts[factory.name === 'adaptive' ? 'poisonRate' : 'rate'] = rate;
  if (cover !== undefined) {
    only('cover-rate', ['adaptive']);
    opts.coverRate = cover;
  }
  if (values['wanet-k'] !== undefined) {
    only('wanet-k', ['wanet']);
    opts.k = num('wanet-k', values['wanet-k'], 'int');
  }
  if (values['wanet-noise']) {
    only('wanet-noise', ['wanet']);
    opts.noise = true;
  }
  if (values['pgd-steps'] !== undefined) {
    only('pgd-steps', ['lc']);
    opts.steps = num('pgd-steps', values['pgd-steps'], 'nonneg-int');
  }

  const { split, normalization } = loadDataset(values.dataset!, values['data-dir']);
  let train = split.train;
  if (p.trainSubset && p.trainSubset < train.n) {
    const idx = new Rng(p.seed).shuffle(Int32Array.from({ length: train.n }, (_, i) => i)) as Int32Array;
    train = subset(train, idx.subarray(0, p.trainSubset));
  }
  const test = split.test;
  if (target >= train.classes.length) throw new Error(`--target ${target} is not a class of ${values.dataset} (${train.classes.length} classes)`);
  const attack = factory.create({ h: train.h, w: train.w, c: train.c }, opts);

  const dsTag = values.dataset!.replace(/[^a-z0-9-]/gi, '_');
  const out = values.out ?? join('runs', `attack-${factory.name}-${dsTag}-${values.preset}-s${p.seed}`);
  mkdirSync(out, { recursive: true });
  const rtm = await init();
  console.error(`adapter: ${rtm.adapterName}`);
  console.error(`attack ${factory.name} (${factory.summary}); target ${target}; ${train.n} training images; out ${out}`);

  const ctx: LcContext = { normalization, log: (m) => console.error(m), cacheDir: out };
  let benign: ResNet18 | null = null;
  let benignFile: string | null = null;
  if (attack.needsCleanModel) {
    const b = await benignModel(p, train, test, normalization, values.dataset!, values.preset!, values['benign-dir']);
    benign = b.model;
    benignFile = b.file;
    ctx.cleanModel = b.model;
    ctx.cleanModelId = b.id;
  }
  // a rerun in the same folder resumes the training: it must be the same attack configuration
  const attackHash = configHash({ params: attack.params(), trainImages: train.n, dataset: values.dataset, lcInit: attack.needsCleanModel ? values['lc-init'] : null });
  if (existsSync(join(out, 'train-state.json')) && existsSync(join(out, 'attack.json'))) {
    const prev = JSON.parse(readFileSync(join(out, 'attack.json'), 'utf8')) as { attackHash?: string };
    if (prev.attackHash !== attackHash) throw new Error(`${out} holds a run of another attack configuration: use another --out or delete it`);
  }
  const poisoned = await attack.poisonTrain(train, ctx);
  const poisonedTest = attack.poisonTest(test);
  console.error(`poisoned ${poisoned.poisoned.length} training images${poisoned.cover ? ` (+${poisoned.cover.length} cover)` : ''}; ASR set: ${poisonedTest.n} triggered non-target test images`);
  writeFileSync(
    join(out, 'attack.json'),
    JSON.stringify({ ...attack.params(), attackHash, dataset: values.dataset, trainImages: train.n, trainSubsetSeed: p.trainSubset ? p.seed : null, poisonedIndices: Array.from(poisoned.poisoned), coverIndices: poisoned.cover ? Array.from(poisoned.cover) : undefined }),
  );
  writeExamples(join(out, 'examples.png'), attack, test, poisoned, 8, p.seed);

  const model = new ResNet18({ numClasses: train.classes.length, inChannels: train.c, width: p.width, seed: p.seed, stem: train.h >= 128 ? 'imagenet' : 'cifar' });
  if (benignFile && values['lc-init'] === 'benign') {
    // official LC quirk: the backdoored model is trained starting from the benign model's weights
    loadCheckpoint(model, benignFile);
  }
  benign?.dispose();
  console.error(`ResNet-18 width ${p.width}: ${model.parameterCount().toLocaleString()} parameters, ${p.epochs} epochs, batch ${p.batchSize}`);
  const res = await trainClassifier(model, { train: poisoned.dataset, test }, p, { normalization, sampleTransform: poisoned.sampleTransform, outDir: out, evalEveryEpoch: true, label: factory.name });
  const ba = res.testAccuracy;
  const asr = poisonedTest.n ? await accuracy(model, poisonedTest, { normalization }) : NaN;
  await saveCheckpoint(model, join(out, 'model.safetensors'), { dataset: values.dataset!, preset: values.preset!, attack: factory.name, target: String(target), BA: String(ba), ASR: String(asr) });
  const wall = (performance.now() - t0) / 1000;
  const summary = {
    attack: factory.name,
    dataset: values.dataset,
    preset: values.preset,
    target,
    BA: ba,
    ASR: asr,
    poisoned: poisoned.poisoned.length,
    cover: poisoned.cover?.length ?? 0,
    asrImages: poisonedTest.n,
    testImages: test.n,
    wallSeconds: wall,
    trainWallSeconds: res.wallSeconds,
    imagesPerSec: res.imagesPerSec,
    resumedFromEpoch: res.resumedFromEpoch,
    lcInit: attack.needsCleanModel ? values['lc-init'] : undefined,
    config: p,
    adapter: rtm.adapterName,
    history: res.history,
  };
  writeFileSync(join(out, 'result.json'), JSON.stringify(summary, null, 2));
  console.log(`${factory.name} on ${values.dataset}: BA ${(100 * ba).toFixed(2)}% | ASR ${(100 * asr).toFixed(2)}% | wall ${(wall / 60).toFixed(1)} min | ${out}`);
  model.dispose();
  shutdown();
} catch (e) {
  console.error(`attack: ${(e as Error).message}`);
  process.exit(1);
}

