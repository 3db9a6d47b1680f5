/**
 * The defender's path: REFINE in front of a classifier someone else trained, with nothing but its
 * weights and unlabeled images (docs/defend.md). `defend()` infers the architecture from the
 * checkpoint, runs the label-free augmentation check, trains the UNet (resumable), and writes a
 * self-contained defended-model folder:
 *   defense.json        everything needed to load and run it (architecture, input size, channels,
 *                       normalisation, class names, REFINE configuration, seeds, engine version,
 *                       the classifier's SHA-256)
 *   classifier.safetensors, unet.safetensors, mapping.json
 *   report.json / report.md   pseudo-labels, agreement, collapse flags, the augmentation check,
 *                       BA (and ASR with triggered images) before and after, cost
 *   train/              the training checkpoint (resume after a kill; removed when finished)
 * `loadDefended(dir)` needs only that folder. A model reachable only as an endpoint goes through
 * defend-blackbox.ts, which shares the checks, the measurements and the report with this file.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { buildClassifier, defendedFromFiles, inferClassifierSpec, parseDefenseConfig, type ClassifierSpec, type DefenseConfig } from './defense-config.js';

export { ARCHS, buildClassifier, openDefendedFiles, type Arch, type ClassifierSpec, type DefenseConfig, type DefendedFiles } from './defense-config.js';
import { loadCheckpoint } from '../nn/checkpoint.js';
import type { Module } from '../nn/module.js';
import type { DistillLog } from '../train/distill.js';
import { readSafetensors } from '../nn/safetensors.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import { saveDefended, trainRefine, type RefineEpochLog } from '../refine/defense.js';
import { DefendedModel } from '../refine/defended.js';
import { largestRefineBatch } from '../refine/step.js';
import type { AugmentationCheck } from '../refine/diagnostics.js';
import { hits, predict } from '../train/evaluate.js';
import { readJson, sweepTempFiles, writeFileAtomic, writeJsonAtomic } from '../util/files.js';
import { describeGuard, GUARD_CHECK_IMAGES, GUARD_PROBE_NAMES, GUARD_PROBES, guardDecision, guardedConfig, guardFired, runGuardChecks, type GuardProbe, type RefinePreset } from './refine-presets.js';
import { seededSubset } from '../data/dataset.js';

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export interface Evaluated {
  images: number;
  /** accuracy against the labels (BA on clean images) */
  accuracy?: number;
  /** share classified as `target` (ASR on triggered images) */
  targetShare?: number;
  /** share of the most predicted class and that class */
  topClass: string;
  topShare: number;
}

/** `photometric`, `rotation`: the guard's probes (absent when the guard is off, and each in reports from before it) */
export interface DefenseReport extends Partial<Record<GuardProbe, AugmentationCheck>> {
  config: DefenseConfig;
  augmentation: AugmentationCheck;
  /** pseudo-label shares argmax F(x) over the unlabeled images, by class name */
  pseudoLabelShares: Record<string, number>;
  history: RefineEpochLog[];
  collapsed: boolean;
  before: { test?: Evaluated; triggered?: Evaluated };
  after: { test?: Evaluated; triggered?: Evaluated };
  target?: string;
  trainSeconds: number;
  imagesPerSecond: number;
  /** a black box's defense (defend-blackbox.ts): the queries spent and the surrogate's distillation */
  blackBox?: BlackBoxReport;
}

export interface BlackBoxReport {
  url: string;
  /** images sent: one per unlabeled image for the distillation (over every invocation of a resumed run); the before / after measurements (this invocation) */
  queries: { distill: number; evaluation: number };
  /** share of the unlabeled images on which the surrogate's class equals the black box's */
  surrogateAgreement: number;
  distill: DistillLog[];
  distillSeconds: number;
  /** the refit after REFINE (refine/blackbox-refit.ts; absent when turned off) */
  refit?: {
    /** one per T(x) of an unlabeled image */
    queries: number;
    /** the surrogate's argmax agreement with the black box on T(x), before and after the refit */
    agreementBefore: number;
    agreementAfter: number;
    distill: DistillLog[];
    /** REFINE's epochs trained again against the refitted surrogate */
    history: RefineEpochLog[];
    /** the augmentation guard's remedy for those epochs (checked again on the refitted surrogate, joined with the first check's) */
    guard?: string;
  };
}

/** What defend() and defendBlackBox() share: the data, the recipe, the output folder, the measurements. */
export interface DefenseRunOptions {
  /** unlabeled images (labels never read) */
  unlabeled: ImageDataset;
  normalization: Normalization;
  classes: string[];
  preset: string;
  refine: RefinePreset;
  out: string;
  /** labelled clean test images (BA) */
  test?: ImageDataset;
  /** triggered images; with `target` their target share is the ASR */
  triggered?: ImageDataset;
  target?: number;
  engine: { name: string; version: string };
  /** data folders the run reads: `out` may not be one of them or inside one */
  dataFolders: string[];
  log?: (m: string) => void;
  quiet?: boolean;
}

export interface DefendOptions extends DefenseRunOptions {
  model: string;
  spec: ClassifierSpec;
}

/**
 * Inputs are never written to: the output folder may not be the folder holding the model file,
 * nor a data folder or any folder inside one.
 */
export function checkOutputFolder(out: string, model: string | null, dataFolders: string[]): void {
  const o = resolve(out);
  if (model !== null && o === resolve(dirname(model))) throw new Error(`--out ${out} is the folder of the model file ${model}: inputs are never written to; choose another output folder`);
  for (const d of dataFolders) {
    const r = relative(resolve(d), o);
    if (r === '' || (!r.startsWith('..') && !isAbsolute(r))) throw new Error(`--out ${out} is ${r === '' ? '' : 'inside '}the data folder ${d}: inputs are never written to; choose another output folder`);
  }
}

/** Predictions per class. */
export function classCounts(pred: ArrayLike<number>, k: number): number[] {
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < pred.length; i++) counts[pred[i]!]!++;
  return counts;
}

function evaluated(pred: Int32Array, ds: ImageDataset, classes: string[], target?: number): Evaluated {
  const counts = classCounts(pred, classes.length);
  const top = counts.indexOf(Math.max(...counts));
  const n = Math.max(1, pred.length);
  return {
    images: pred.length,
    ...(target === undefined ? { accuracy: hits(pred, ds.labels) / n } : { targetShare: counts[target]! / n }),
    topClass: classes[top] ?? String(top),
    topShare: counts[top]! / n,
  };
}

/** The images a defense is measured on (what DefendOptions and the black-box options share). */
type Measured = Pick<DefenseRunOptions, 'test' | 'triggered' | 'target' | 'classes'>;

/** Accuracy on the test images and target share of the triggered ones under `classify`. */
export async function evaluateBoth(classify: (ds: ImageDataset) => Promise<Int32Array>, o: Measured): Promise<{ test?: Evaluated; triggered?: Evaluated }> {
  const out: { test?: Evaluated; triggered?: Evaluated } = {};
  if (o.test) out.test = evaluated(await classify(o.test), o.test, o.classes);
  if (o.triggered) out.triggered = evaluated(await classify(o.triggered), o.triggered, o.classes, o.target);
  return out;
}

/**
 * The label-free checks on `classifier` (the defended model, or a black box's surrogate) and the
 * configuration REFINE trains with: guarded where a check fired, the batch shrunk where the
 * preset's does not fit the adapter. Logs one line per check.
 */
export async function checkedRefine(classifier: Module, u: ImageDataset, o: { refine: RefinePreset; normalization: Normalization; classes: string[] }, log: (m: string) => void) {
  log(`checking whether REFINE's augmentation fires a backdoor (${Math.min(GUARD_CHECK_IMAGES, u.n)} unlabeled images, no labels)`);
  // (and, when the guard is on, its probes: transforms a trigger may resemble)
  const { augmentation, ...probes } = await runGuardChecks(classifier, u, o.refine, o.normalization, o.refine.seed);
  const decision = guardDecision(o.refine, { augmentation, ...probes });
  const guard: DefenseConfig['augmentationGuard'] = o.refine.augmentationGuard ? (guardFired(decision) ? 'applied' : 'not needed') : 'off';
  const guarded = guardedConfig(o.refine, decision);
  // large images: the preset's batch may not fit the adapter's binding limit (refused, not split, in training)
  const batch = largestRefineBatch(classifier, { batch: guarded.batchSize, unetChannels: guarded.unetChannels, numClasses: o.classes.length, renormalize: guarded.renormalize ? o.normalization : null }, u);
  if (batch < guarded.batchSize) log(`batch ${guarded.batchSize} does not fit this adapter at ${u.w}×${u.h} (a tensor over its storage-binding limit): REFINE trains with batch ${batch}`);
  const refine = batch < guarded.batchSize ? { ...guarded, batchSize: batch } : guarded;
  const rise = (a: AugmentationCheck) => `class '${o.classes[a.maxShareRiseClass]}' ${a.maxShareRise >= 0 ? '+' : ''}${(100 * a.maxShareRise).toFixed(1)} points`;
  const probeText = GUARD_PROBE_NAMES.map((p) => { const a = probes[p]; return a ? `; ${GUARD_PROBES[p].label}: ${(100 * a.changed).toFixed(1)}% changed, ${rise(a)}` : ''; }).join('');
  log(`augmentation check: ${(100 * augmentation.changed).toFixed(1)}% of pseudo-labels changed, ${rise(augmentation)}${probeText}; guard ${guard === 'applied' ? `applied (${describeGuard(decision)})` : guard}`);
  return { augmentation, probes, decision, guard, refine };
}

type Checked = Awaited<ReturnType<typeof checkedRefine>>;

/** defense.json: the classifier (or a black box's surrogate) file, the input, the recipe asked for and trained. */
export function defenseConfig(o: DefenseRunOptions, classifier: DefenseConfig['classifier'], checked: Checked, createdAt: string | undefined, blackBox?: DefenseConfig['blackBox']): DefenseConfig {
  const u = o.unlabeled;
  return {
    format: 'refine-gpu-defense',
    version: 1,
    engine: o.engine,
    createdAt: createdAt ?? new Date().toISOString(),
    classifier,
    input: { h: u.h, w: u.w, c: u.c, normalization: o.normalization },
    classes: o.classes,
    preset: o.preset,
    requested: o.refine,
    refine: checked.refine,
    augmentationGuard: checked.guard,
    ...(o.refine.augmentationGuard ? { guard: checked.decision } : {}),
    unlabeledImages: u.n,
    ...(blackBox ? { blackBox } : {}),
  };
}

/** The report of a finished defense, written as report.json and report.md; the training folder removed. */
export function finishDefense(o: DefenseRunOptions, config: DefenseConfig, checked: Checked, pseudo: Record<string, number>, res: { history: RefineEpochLog[]; wallSeconds: number }, measured: { before: DefenseReport['before']; after: DefenseReport['after'] }, trainDir: string, blackBox?: BlackBoxReport): DefenseReport {
  const { before, after } = measured;
  const last = res.history[res.history.length - 1];
  const steps = last?.stepsDone ?? 0;
  const report: DefenseReport = {
    config,
    augmentation: checked.augmentation,
    ...checked.probes,
    pseudoLabelShares: pseudo,
    history: res.history,
    collapsed: Boolean(last?.collapsed) || (after.test !== undefined && after.test.topShare > 0.6 && (before.test?.topShare ?? 0) <= 0.6),
    before,
    after,
    ...(o.target !== undefined ? { target: o.classes[o.target] } : {}),
    trainSeconds: res.wallSeconds,
    imagesPerSecond: res.wallSeconds > 0 ? (steps * config.refine.batchSize) / res.wallSeconds : 0,
    ...(blackBox ? { blackBox } : {}),
  };
  writeJsonAtomic(join(o.out, 'report.json'), report);
  writeFileAtomic(join(o.out, 'report.md'), renderDefenseReport(report));
  rmSync(trainDir, { recursive: true, force: true });
  return report;
}

/** Pseudo-label shares argmax F(x) over the unlabeled images, by class name. */
export function pseudoLabelShares(plain: Int32Array, classes: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  classCounts(plain, classes.length).forEach((count, k) => (out[classes[k]!] = count / Math.max(1, plain.length)));
  return out;
}

/** Trains (or resumes) REFINE for the classifier in `o.model` and writes the defended-model folder. */
export async function defend(o: DefendOptions): Promise<DefenseReport> {
  const log = o.log ?? ((m: string) => console.error(m));
  checkOutputFolder(o.out, o.model, o.dataFolders);
  sweepTempFiles(o.out); // a report write that a kill interrupted
  const classifier = buildClassifier(o.spec);
  try {
    loadCheckpoint(classifier, o.model);
    classifier.freeze().eval();
    const u = o.unlabeled;
    if (u.c !== o.spec.inChannels) throw new Error(`the classifier takes ${o.spec.inChannels}-channel images, the unlabeled images have ${u.c} (--channels ${o.spec.inChannels})`);
    if (o.classes.length !== o.spec.numClasses) throw new Error(`the classifier has ${o.spec.numClasses} classes, ${o.classes.length} class names were given`);
    const sha256 = sha256File(o.model);
    const prev = readJson<DefenseConfig>(join(o.out, 'defense.json'));
    if (prev && prev.classifier.sha256 !== sha256) throw new Error(`${o.out} holds the defense of another classifier (SHA-256 ${prev.classifier.sha256.slice(0, 12)}…): choose another --out`);
    const same = (a: RefinePreset) => JSON.stringify(a) === JSON.stringify(o.refine);
    if (prev && (!same(prev.requested) || prev.unlabeledImages !== o.unlabeled.n || prev.preset !== o.preset)) {
      throw new Error(`${o.out} holds a defense of another configuration (see its defense.json): choose another --out or delete it`);
    }
    const done = prev ? readJson<DefenseReport>(join(o.out, 'report.json')) : null;
    if (done) {
      log(`${o.out}: finished defense found (report.md), reported as it is`);
      return done;
    }
    mkdirSync(o.out, { recursive: true });

    const checked = await checkedRefine(classifier, u, o, log);
    const config = defenseConfig(o, { ...o.spec, file: 'classifier.safetensors', sha256, source: o.model }, checked, prev?.createdAt);
    writeJsonAtomic(join(o.out, 'defense.json'), config);

    const pseudo = pseudoLabelShares(await predict(classifier, u, { normalization: o.normalization }), o.classes);
    const classify = (m: Parameters<typeof predict>[0]) => (ds: ImageDataset) => predict(m, ds, { normalization: o.normalization });
    const before = await evaluateBoth(classify(classifier), o);

    const trainDir = join(o.out, 'train');
    const res = await trainRefine(classifier, u, config.refine, { normalization: o.normalization, numClasses: o.spec.numClasses, outDir: trainDir, quiet: o.quiet, evalSet: o.test ? seededSubset(o.test, 1000, config.refine.seed + 29) : undefined });
    await saveDefended(res.defended, o.out);
    copyFileSync(o.model, join(o.out, 'classifier.safetensors'));
    const after = await evaluateBoth(classify(res.defended), o);
    const report = finishDefense(o, config, checked, pseudo, res, { before, after }, trainDir);
    res.defended.unet.dispose();
    return report;
  } finally {
    classifier.dispose();
  }
}

/** The defended model of a folder written by defend(): classifier, UNet and mapping from the folder alone. */
export function loadDefended(dir: string): { defended: DefendedModel; config: DefenseConfig } {
  const defense = join(dir, 'defense.json');
  if (!existsSync(defense)) throw new Error(`${dir}: no defense.json of a defended model (made by npm run defend)`);
  const config = parseDefenseConfig(readFileSync(defense, 'utf8'), dir);
  const file = join(dir, config.classifier.file);
  for (const f of [file, join(dir, 'unet.safetensors'), join(dir, 'mapping.json')]) if (!existsSync(f)) throw new Error(`${dir}: ${basename(f)} is missing`);
  return defendedFromFiles(
    { defense: readFileSync(defense, 'utf8'), classifier: readFileSync(file), unet: readFileSync(join(dir, 'unet.safetensors')), mapping: readFileSync(join(dir, 'mapping.json'), 'utf8') },
    sha256File(file),
    dir,
  );
}

/** The ResNet-18 variant of a checkpoint file, from its tensor shapes. */
export function inferClassifier(file: string): ClassifierSpec {
  return inferClassifierSpec(readSafetensors(file).tensors, file);
}

/** Whether the defense met REFINE's goal on the given test images ('met', 'missed by …'), or null without both measurements. */
export function defenseGoal(r: DefenseReport): string | null {
  const ba0 = r.before.test?.accuracy;
  const ba1 = r.after.test?.accuracy;
  const asr = r.after.triggered?.targetShare;
  if (ba0 === undefined || ba1 === undefined || asr === undefined) return null;
  const drop = 100 * (ba0 - ba1);
  const misses = [...(drop > 3 ? [`accuracy ${drop.toFixed(1)} points below, ${(drop - 3).toFixed(1)} over the 3 allowed`] : []), ...(asr > 0.05 ? [`ASR ${(100 * asr).toFixed(2)}%`] : [])];
  return misses.length ? `missed (${misses.join('; ')})` : `met (accuracy ${drop.toFixed(1)} points below, ASR ${(100 * asr).toFixed(2)}%)`;
}

const pct = (v: number | undefined) => (v === undefined ? '—' : `${(100 * v).toFixed(2)}%`);

export function renderDefenseReport(r: DefenseReport): string {
  const c = r.config;
  const bb = r.blackBox;
  const L: string[] = [`# REFINE defense of ${c.blackBox ? `the black box ${c.blackBox.url}` : c.classifier.source}`, ''];
  const input = `Input ${c.input.h}×${c.input.w}×${c.input.c}, normalisation mean ${JSON.stringify(c.input.normalization.mean)} std ${JSON.stringify(c.input.normalization.std)}.`;
  if (bb) {
    L.push(`Black box: ${bb.url} (${c.blackBox?.format ?? 'json'} batches), seen only through its probabilities, ${c.classifier.numClasses} classes. ${input}`);
    L.push(`Surrogate (REFINE trains against it; the defense is deployed in front of the black box): ${c.classifier.arch} ×${c.classifier.width} distilled in ${bb.distill.length} epochs (MSE on the probabilities, ${(bb.distillSeconds / 60).toFixed(1)} min); its class equals the black box's on ${pct(bb.surrogateAgreement)} of the unlabeled images. SHA-256 \`${c.classifier.sha256}\`.`);
    L.push(`Queries to the black box: ${bb.queries.distill} for the distillation (one per unlabeled image), ${bb.refit ? `${bb.refit.queries} for the refit (one per transformed image T(x)), ` : ''}${bb.queries.evaluation} for the measurements below.`);
    if (bb.refit) L.push(`Refit (a deviation from the paper; the deployed UNet is the refitted one): the surrogate's class equals the black box's on ${pct(bb.refit.agreementBefore)} of the transformed unlabeled images before it and ${pct(bb.refit.agreementAfter)} after ${bb.refit.distill.length} more distillation epochs on x and T(x); REFINE's last ${bb.refit.history.length} epochs were then trained again against it ("refit" rows below)${bb.refit.guard ? `, with the augmentation guard checked again on the refitted surrogate: ${bb.refit.guard}` : ''}.`);
  } else L.push(`Classifier: ${c.classifier.arch} ×${c.classifier.width}, ${c.classifier.numClasses} classes, SHA-256 \`${c.classifier.sha256}\`. ${input}`);
  L.push(`REFINE preset \`${c.preset}\`: ${c.refine.epochs} epochs on ${c.unlabeledImages} unlabeled images, batch ${c.refine.batchSize}, UNet c = ${c.refine.unetChannels}, ${c.refine.schedule ? `one-cycle lr peaking at ${c.refine.lr}` : `lr ${c.refine.lr}`}, λ = ${c.refine.lambda}${c.refine.renormalize ? ', T(x) normalised before the classifier' : ''}. Engine ${c.engine.name} ${c.engine.version}.`, '');
  L.push('## Accuracy before and after', '');
  L.push('| images | before (undefended) | after (REFINE) |', '|---|---|---|');
  if (r.before.test) L.push(`| clean test images (${r.before.test.images}): accuracy | ${pct(r.before.test.accuracy)} | ${pct(r.after.test?.accuracy)} |`);
  if (r.before.triggered) {
    if (r.target !== undefined) L.push(`| triggered images (${r.before.triggered.images}): share classified as '${r.target}' (ASR) | ${pct(r.before.triggered.targetShare)} | ${pct(r.after.triggered?.targetShare)} |`);
    L.push(`| triggered images: most predicted class (share) | ${r.before.triggered.topClass} (${pct(r.before.triggered.topShare)}) | ${r.after.triggered?.topClass} (${pct(r.after.triggered?.topShare)}) |`);
  }
  if (!r.before.test && !r.before.triggered) L.push('| (no labelled test images given: --test) | | |');
  const goal = defenseGoal(r);
  if (goal) L.push('', `REFINE's goal (ASR ≤ 5%, accuracy at most 3 points below the undefended model's): **${goal}**.`);
  L.push('', '## Diagnostics (label-free)', '');
  const a = r.augmentation;
  L.push(`- Augmentation check on ${a.images} unlabeled images: REFINE's augmentation changes ${pct(a.changed)} of the pseudo-labels; the largest rise of one class is '${c.classes[a.maxShareRiseClass]}' ${(100 * a.maxShareRise).toFixed(1)} points, which receives ${pct(a.topChangedToShare)} of the changes.`);
  for (const p of GUARD_PROBE_NAMES) {
    const ph = r[p];
    const { name, detail } = GUARD_PROBES[p];
    if (ph) L.push(`- ${name[0]!.toUpperCase()}${name.slice(1)} (${detail}) on the same images: it changes ${pct(ph.changed)} of the pseudo-labels; the largest rise of one class is '${c.classes[ph.maxShareRiseClass]}' ${(100 * ph.maxShareRise).toFixed(1)} points, which receives ${pct(ph.topChangedToShare)} of the changes.`);
  }
  L.push(`- Augmentation guard: **${c.augmentationGuard}**${c.augmentationGuard === 'applied' ? ` (${describeGuard(c.guard ?? { crop: true, photometric: false })})` : ''}.`);
  if (bb) L.push('- The checks, the pseudo-labels and the agreement below are the surrogate\'s (no queries).');
  L.push(`- Pseudo-labels over the unlabeled images: ${Object.entries(r.pseudoLabelShares).map(([k, v]) => `${k} ${pct(v)}`).join(', ')}.`);
  const last = r.history[r.history.length - 1];
  if (last) L.push(`- Final agreement of the defended model with the pseudo-labels: ${pct(last.agreement)}; largest class share of its predictions ${pct(last.maxClassShare)}${r.collapsed ? ' — **COLLAPSED** (one class dominates the defended predictions)' : ''}.`);
  L.push('', '## Training', '', '| epoch | steps | lr | loss | agreement | BA (1,000 test images) | seconds |', '|---|---|---|---|---|---|---|');
  const row = (h: RefineEpochLog, label: string) => `| ${label} | ${h.stepsDone ?? '—'} | ${h.lr.toExponential(2)} | ${h.loss.toFixed(4)} | ${pct(h.agreement)} | ${pct(h.benignAccuracy)} | ${h.seconds.toFixed(0)} |`;
  for (const h of r.history) L.push(row(h, `${h.epoch}`));
  for (const h of bb?.refit?.history ?? []) L.push(row(h, `${h.epoch} (refit)`));
  L.push('', `Training: ${(r.trainSeconds / 60).toFixed(1)} min, ${r.imagesPerSecond.toFixed(1)} images/s.`, '');
  return L.join('\n');
}

/** The class names of a --class-names file: one per line, blank lines ignored. */
export function readClassNames(file: string): string[] {
  const names = readFileSync(file, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  if (!names.length) throw new Error(`${file}: no class names (one per line)`);
  if (new Set(names).size !== names.length) throw new Error(`${file}: repeated class names`);
  return names;
}
