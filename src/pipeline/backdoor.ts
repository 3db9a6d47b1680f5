/**
 * Training (or reusing) a backdoored classifier (docs/attacks.md): the code path shared by
 * `npm run attack` and `npm run reproduce`.
 *
 * Folder layout (one folder per attack configuration, default `runs/attack-<attack>-<dataset>-
 * <preset>-s<seed>`, with a `-<hash>` suffix when the preset or the attack options were
 * overridden, so that a small smoke run never lands in the folder of a real one):
 *   model.safetensors   the trained backdoored ResNet-18
 *   attack.json         attack parameters, attackHash, poisoned indices
 *   examples.png        clean vs poisoned examples
 *   result.json         BA, ASR (and by true class), wall time, config, per-epoch history, runHash
 *   last*.safetensors, train-state.json   the trainer's per-epoch resume state
 * A folder whose result.json carries the same runHash is reused as is (no poisoning, no training);
 * a folder holding an unfinished run of the same configuration resumes; another configuration
 * is an error.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { asrByClass, attacks, type Attack, type LcContext } from '../attacks/index.js';
import { writeExamples } from '../attacks/examples.js';
import { subset, type ImageDataset, type Normalization } from '../data/dataset.js';
import { ResNet } from '../nn/resnet.js';
import { loadCheckpoint, saveCheckpoint } from '../nn/checkpoint.js';
import type { ClassifierPreset } from '../train/presets.js';
import { configHash, trainClassifier, TRAIN_FILES, type EpochLog } from '../train/trainer.js';
import { accuracyByClass, hits, predict } from '../train/evaluate.js';
import { progressText } from '../train/resume.js';
import { Rng } from '../util/random.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/files.js';
import { backdoorRunDir, benignRunDir, COMMITTED_BACKDOORS } from './run-folders.js';

export { COMMITTED_BACKDOORS, datasetTag } from './run-folders.js';

export interface BackdoorSpec {
  /** attack name or alias (attacks.get) */
  attack: string;
  /** dataset name as given on the command line (tags, metadata) */
  dataset: string;
  /** preset name ('quick' | 'paper') */
  presetName: string;
  /** the classifier recipe, overrides applied */
  preset: ClassifierPreset;
  /** target label y_t */
  target: number;
  /** attack-specific options (rate, k, ...); target and seed are added */
  attackOptions?: Record<string, unknown>;
  /** LC: start the backdoored model from the benign one (official) or from scratch */
  lcInit?: 'benign' | 'scratch';
  /** LC: folder of the benign model (default runs/benign-...) */
  benignDir?: string;
  /** output folder (default defaultBackdoorDir(spec)) */
  out?: string;
}

export interface BackdoorData {
  /** training set, already reduced to preset.trainSubset (see trainSubsetOf) */
  train: ImageDataset;
  test: ImageDataset;
  normalization: Normalization;
}

export interface BackdoorSummary {
  attack: string;
  dataset: string;
  preset: string;
  target: number;
  BA: number;
  ASR: number;
  /** the ASR by the true class of the triggered test image (runs since it was recorded) */
  asrByClass?: Record<string, number>;
  /** the BA by true class of the clean test image (runs since it was recorded) */
  baByClass?: Record<string, number>;
  poisoned: number;
  cover: number;
  asrImages: number;
  testImages: number;
  wallSeconds: number;
  trainWallSeconds: number;
  imagesPerSec: number;
  resumedFromEpoch: number;
  /** where the last sitting resumed the training, inside an epoch too (the trainer's resumedAt) */
  resumedAt?: string;
  lcInit?: string;
  config: ClassifierPreset;
  adapter?: string;
  history: EpochLog[];
  attackHash: string;
  runHash: string;
}

export interface BackdoorRun {
  model: ResNet;
  attack: Attack;
  out: string;
  summary: BackdoorSummary;
  /** true when the folder already held the finished model (nothing was trained) */
  cached: boolean;
}

export interface BackdoorRunOptions {
  log?: (msg: string) => void;
  adapter?: string;
  /** no progress bars or per-epoch lines from the trainer */
  quiet?: boolean;
  /**
   * Read-only folders of committed finished runs (default [COMMITTED_BACKDOORS]): when the
   * output folder holds no finished run of this configuration, `<root>/<basename(out)>` is
   * reused if its result.json carries the same runHash, and an unfinished run there (the
   * trainer's per-epoch state of the same attack configuration) is copied in and resumed. LC's
   * benign model folder is looked up the same way.
   */
  cacheRoots?: string[];
  /** called after each training epoch's checkpoint is written (throwing stops the run; it resumes) */
  onEpochEnd?: (log: EpochLog) => void;
}

/** The seeded training subset of the preset (the whole set when trainSubset is unset or ≥ n). */
export function trainSubsetOf(train: ImageDataset, p: ClassifierPreset): ImageDataset {
  if (!p.trainSubset || p.trainSubset >= train.n) return train;
  const idx = new Rng(p.seed).shuffle(Int32Array.from({ length: train.n }, (_, i) => i)) as Int32Array;
  return subset(train, idx.subarray(0, p.trainSubset));
}

/** The default folder of a backdoored model's run (run-folders.ts). */
export function defaultBackdoorDir(spec: BackdoorSpec, root = 'runs'): string {
  return backdoorRunDir(spec, root);
}

/**
 * The paper's ResNet-18 (docs/method.md, "The models"), or ResNet-50 with `depth` 50, for a
 * dataset's shape and classes (CIFAR stem below 128 px), at the preset's width and seed.
 */
export function newResNet(train: ImageDataset, p: Pick<ClassifierPreset, 'width' | 'seed' | 'depth'>): ResNet {
  return new ResNet({ numClasses: train.classes.length, inChannels: train.c, width: p.width, seed: p.seed, stem: train.h >= 128 ? 'imagenet' : 'cifar', depth: p.depth ?? 18 });
}

/**
 * Copies the trainer's per-epoch state (and `extra` files) of an unfinished run in `from` (a
 * committed folder) into `to`, unless `to` holds a run of its own or `from` lacks a file.
 * Returns whether it did.
 */
function adoptUnfinished(from: string, to: string, extra: string[]): boolean {
  const files = [TRAIN_FILES.model, TRAIN_FILES.optimizer, TRAIN_FILES.state, ...extra];
  if (from === to || existsSync(join(to, TRAIN_FILES.state)) || !files.every((f) => existsSync(join(from, f)))) return false;
  mkdirSync(to, { recursive: true });
  for (const f of files) copyFileSync(join(from, f), join(to, f));
  return true;
}

/**
 * The benign model LC attacks with PGD: trained once per configuration, cached. Its id (the
 * folder name, which carries the configuration hash, and the test accuracy) keys LC's PGD cache,
 * the same on every machine (a path would not be).
 */
async function benignModel(
  p: ClassifierPreset,
  data: BackdoorData,
  dataset: string,
  preset: string,
  log: (m: string) => void,
  dirOverride: string | undefined,
  roots: string[],
  quiet = false,
): Promise<{ model: ResNet; id: string; file: string }> {
  const { train, test, normalization } = data;
  const hash = configHash({ p, n: train.n, ds: train.name, dataset });
  const dir = dirOverride ?? benignRunDir(dataset, preset, p.seed, hash);
  let file = join(dir, 'model.safetensors');
  const model = newResNet(train, p);
  // committed from another machine (a cache root holding a folder of the same name): the
  // finished model is used from there, an unfinished run's per-epoch state is copied in and resumed
  for (const committed of roots.map((r) => join(r, basename(dir)))) {
    if (existsSync(file)) break;
    if (existsSync(join(committed, 'model.safetensors'))) file = join(committed, 'model.safetensors');
    else if (adoptUnfinished(committed, dir, [])) {
      log(`LC: resuming the unfinished benign run in ${committed}`);
      break;
    }
  }
  if (existsSync(file)) {
    const meta = loadCheckpoint(model, file);
    log(`LC: benign model from ${file} (test accuracy ${meta.testAccuracy ?? '?'})`);
    return { model, id: `${basename(dir)}:${meta.testAccuracy ?? ''}`, file };
  }
  log(`LC: training the benign model in ${dir}`);
  const res = await trainClassifier(model, { train, test }, p, { normalization, outDir: dir, evalEveryEpoch: true, label: 'benign', quiet });
  await saveCheckpoint(model, file, { dataset, preset, testAccuracy: String(res.testAccuracy) });
  writeJsonAtomic(join(dir, 'result.json'), { dataset, preset, config: p, ...res });
  log(`LC: benign model test accuracy ${(100 * res.testAccuracy).toFixed(2)}%`);
  return { model, id: `${basename(dir)}:${res.testAccuracy}`, file };
}

/** The run folders of an attack (`attack-<name>-...`) beside `out` and in the cache roots, `out` excluded. */
function siblingRuns(name: string, out: string, roots: string[]): string[] {
  const found: string[] = [];
  for (const root of [dirname(out), ...roots]) {
    if (!existsSync(root)) continue;
    for (const e of readdirSync(root, { withFileTypes: true })) {
      const dir = join(root, e.name);
      if (e.isDirectory() && e.name.startsWith(`attack-${name}-`) && resolve(dir) !== resolve(out)) found.push(dir);
    }
  }
  return found;
}

/** Creates the attack for the data's image shape (options checked by the attack). */
export function createAttack(spec: BackdoorSpec, train: ImageDataset): Attack {
  if (spec.target >= train.classes.length) throw new Error(`--target ${spec.target} is not a class of ${spec.dataset} (${train.classes.length} classes)`);
  const factory = attacks.get(spec.attack);
  return factory.create({ h: train.h, w: train.w, c: train.c }, { ...(spec.attackOptions ?? {}), target: spec.target, seed: spec.preset.seed });
}

/**
 * Trains the backdoored classifier of `spec` on `data` (or reuses the finished one in its
 * folder), evaluates BA (clean test set) and ASR (attack.poisonTest(test)), and writes the
 * folder described at the top of this file.
 */
export async function trainBackdoored(spec: BackdoorSpec, data: BackdoorData, opts: BackdoorRunOptions = {}): Promise<BackdoorRun> {
  const t0 = performance.now();
  const log = opts.log ?? ((m: string) => console.error(m));
  const p = spec.preset;
  const { train, test, normalization } = data;
  const factory = attacks.get(spec.attack);
  const lcInit = spec.lcInit ?? 'benign';
  if (!['benign', 'scratch'].includes(lcInit)) throw new Error(`--lc-init must be benign or scratch, got '${lcInit}'`);
  const attack = createAttack(spec, train);
  // refused rather than ignored: the flag would name a new run folder and retrain the same model
  if (!attack.needsCleanModel && (lcInit !== 'benign' || spec.benignDir)) {
    throw new Error(`--lc-init and --benign-dir apply to the Label-Consistent attack (the one that needs a clean model), not to ${factory.name}`);
  }
  const out = spec.out ?? defaultBackdoorDir(spec);
  mkdirSync(out, { recursive: true });

  const attackHash = configHash({ params: attack.params(), trainImages: train.n, dataset: spec.dataset, lcInit: attack.needsCleanModel ? lcInit : null });
  const runHash = configHash({ attackHash, config: p, testImages: test.n });

  // a finished run of this very configuration (in the output folder or committed): reuse it
  const resultFile = join(out, 'result.json');
  const modelFile = join(out, 'model.safetensors');
  for (const dir of [out, ...(opts.cacheRoots ?? [COMMITTED_BACKDOORS]).map((r) => join(r, basename(out)))]) {
    const rf = join(dir, 'result.json');
    const mf = join(dir, 'model.safetensors');
    if (!existsSync(rf) || !existsSync(mf)) continue;
    const prev = JSON.parse(readFileSync(rf, 'utf8')) as Partial<BackdoorSummary>;
    if (prev.runHash !== runHash) continue;
    const model = newResNet(train, p);
    loadCheckpoint(model, mf);
    log(`backdoored model: reusing ${mf} (BA ${(100 * prev.BA!).toFixed(2)}%, ASR ${(100 * prev.ASR!).toFixed(2)}%)`);
    return { model, attack, out: dir, summary: prev as BackdoorSummary, cached: true };
  }
  // an unfinished run committed from another machine (a cache root holding the trainer's
  // per-epoch state and attack.json of this configuration): copy its state into the output
  // folder, so that training resumes from its last epoch instead of starting over
  for (const root of opts.cacheRoots ?? [COMMITTED_BACKDOORS]) {
    const dir = join(root, basename(out));
    const attackFile = join(dir, 'attack.json');
    if (!existsSync(attackFile) || (JSON.parse(readFileSync(attackFile, 'utf8')) as { attackHash?: string }).attackHash !== attackHash) continue;
    if (adoptUnfinished(dir, out, ['attack.json'])) {
      const state = JSON.parse(readFileSync(join(out, TRAIN_FILES.state), 'utf8')) as { epochsDone?: number; partial?: { steps: number } };
      log(`backdoored model: resuming the unfinished run in ${dir} (after ${progressText(state)})`);
      break;
    }
  }
  // a rerun in the same folder resumes the training: it must be the same attack configuration
  if (existsSync(join(out, 'train-state.json')) && existsSync(join(out, 'attack.json'))) {
    const prev = JSON.parse(readFileSync(join(out, 'attack.json'), 'utf8')) as { attackHash?: string };
    if (prev.attackHash !== attackHash) throw new Error(`${out} holds a run of another attack configuration: use another --out or delete it`);
  }
  // the summary states the defaults: name the options that override them
  const given = Object.entries(spec.attackOptions ?? {}).filter(([, v]) => v !== undefined);
  const custom = given.length ? ` with ${given.map(([k, v]) => `${k} ${String(v)}`).join(', ')}` : '';
  log(`attack ${factory.name} (${factory.summary})${custom}; target ${spec.target}; ${train.n} training images; out ${out}`);

  const ctx: LcContext = { normalization, log, cacheDir: out };
  let benign: ResNet | null = null;
  let benignFile: string | null = null;
  if (attack.needsCleanModel) {
    const b = await benignModel(p, data, spec.dataset, spec.presetName, log, spec.benignDir, opts.cacheRoots ?? [COMMITTED_BACKDOORS], opts.quiet);
    benign = b.model;
    benignFile = b.file;
    ctx.cleanModel = b.model;
    ctx.cleanModelId = b.id;
  }
  // the attack's own caches (LC's PGD images, finished or in progress) of a run committed from
  // another machine: copied in when this folder has none (their keys are checked on reading)
  for (const root of attack.cacheFiles?.length ? (opts.cacheRoots ?? [COMMITTED_BACKDOORS]) : []) {
    const dir = join(root, basename(out));
    const files = attack.cacheFiles!.filter((f) => existsSync(join(dir, f)));
    if (dir === out || files.length === 0 || attack.cacheFiles!.some((f) => existsSync(join(out, f)))) continue;
    for (const f of files) copyFileSync(join(dir, f), join(out, f));
    log(`${attack.name}: attack cache (${files.join(', ')}) copied from ${dir}`);
    break;
  }
  // other runs of this attack (another recipe, another folder): LC reuses their finished PGD
  // images when the key (seed, rate, PGD settings, data, clean model) matches
  if (attack.cacheFiles?.length) ctx.cacheSources = siblingRuns(attack.name, out, opts.cacheRoots ?? [COMMITTED_BACKDOORS]);
  const poisoned = await attack.poisonTrain(train, ctx);
  const poisonedTest = attack.poisonTest(test);
  log(`poisoned ${poisoned.poisoned.length} training images${poisoned.cover ? ` (+${poisoned.cover.length} cover)` : ''}; ASR set: ${poisonedTest.n} triggered non-target test images`);
  writeFileAtomic(
    join(out, 'attack.json'),
    JSON.stringify({
      ...attack.params(),
      attackHash,
      dataset: spec.dataset,
      trainImages: train.n,
      trainSubsetSeed: p.trainSubset ? p.seed : null,
      poisonedIndices: Array.from(poisoned.poisoned),
      coverIndices: poisoned.cover ? Array.from(poisoned.cover) : undefined,
    }),
  );
  writeExamples(join(out, 'examples.png'), attack, test, poisoned, 8, p.seed);

  const model = newResNet(train, p);
  // official LC quirk: the backdoored model is trained starting from the benign model's weights
  if (benignFile && lcInit === 'benign') loadCheckpoint(model, benignFile);
  benign?.dispose();
  log(`ResNet-${p.depth ?? 18} width ${p.width}: ${model.parameterCount().toLocaleString()} parameters, ${p.epochs} epochs, batch ${p.batchSize}`);
  const res = await trainClassifier(model, { train: poisoned.dataset, test }, p, {
    normalization,
    sampleTransform: poisoned.sampleTransform,
    outDir: out,
    evalEveryEpoch: true,
    // the ASR after every epoch (a curve in result.json; ~3% of an epoch on Fashion-MNIST)
    evalSets: { ASR: poisonedTest },
    label: factory.name,
    quiet: opts.quiet,
    onEpochEnd: opts.onEpochEnd,
  });
  const ba = res.testAccuracy;
  // the last epoch's predictions on the ASR set give it by class (a run found finished: one more pass)
  const pred = res.evalPredictions?.ASR ?? (await predict(model, poisonedTest, { normalization }));
  const asr = !poisonedTest.n ? NaN : hits(pred, poisonedTest.labels) / poisonedTest.n;
  const byClass = asrByClass(pred, test, spec.target);
  const baByClass = accuracyByClass(res.testPredictions ?? (await predict(model, test, { normalization })), test);
  await saveCheckpoint(model, modelFile, { dataset: spec.dataset, preset: spec.presetName, attack: factory.name, target: String(spec.target), BA: String(ba), ASR: String(asr) });
  const summary: BackdoorSummary = {
    attack: factory.name,
    dataset: spec.dataset,
    preset: spec.presetName,
    target: spec.target,
    BA: ba,
    ASR: asr,
    asrByClass: byClass ?? undefined,
    baByClass,
    poisoned: poisoned.poisoned.length,
    cover: poisoned.cover?.length ?? 0,
    asrImages: poisonedTest.n,
    testImages: test.n,
    wallSeconds: (performance.now() - t0) / 1000,
    trainWallSeconds: res.wallSeconds,
    imagesPerSec: res.imagesPerSec,
    resumedFromEpoch: res.resumedFromEpoch,
    resumedAt: res.resumedAt,
    lcInit: attack.needsCleanModel ? lcInit : undefined,
    config: p,
    adapter: opts.adapter,
    history: res.history,
    attackHash,
    runHash,
  };
  writeJsonAtomic(resultFile, summary);
  return { model, attack, out, summary, cached: false };
}
