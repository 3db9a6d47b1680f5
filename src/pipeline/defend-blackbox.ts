/**
 * The defender's path when the suspicious model is only reachable as a black box: an endpoint that
 * answers probability vectors (docs/defend.md, "A model behind an API"; the method:
 * docs/method.md, "Black-box REFINE"). `defendBlackBox()` queries the black box once per unlabeled
 * image, distils a ResNet-18 surrogate from the answers, runs the label-free guard checks on the
 * surrogate, trains REFINE against it (T(x) normalised before the surrogate, as the black box will
 * normalise it), then by default the refit (refine/blackbox-refit.ts: the black box queried once
 * more on T(x) of each unlabeled image, the surrogate distilled further on x and T(x), REFINE's
 * last epochs trained again), and writes the same kind of folder as defend.ts, with `blackBox`
 * (and `refit`) in defense.json and the surrogate as its classifier file:
 *   defense.json, classifier.safetensors (the surrogate, refitted), unet.safetensors, mapping.json
 *   report.json / report.md   as defend.ts's, plus the queries spent, the distillation, the refit
 *   train/                    the answers (teacher.f32, teacher-T.f32, saved as they arrive), the
 *                             distillations' and REFINE's checkpoints: a killed run resumes without
 *                             querying again what it already has (removed when finished)
 * `loadBlackBoxDefense(dir)` deploys the folder's UNet and mapping in front of the black box.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageDataset } from '../data/dataset.js';
import { saveCheckpoint } from '../nn/checkpoint.js';
import { BlackBoxDefense } from '../refine/blackbox-defense.js';
import { checkRefit, defaultRefit, refitBlackBox, type RefitConfig } from '../refine/blackbox-refit.js';
import { DefendedModel } from '../refine/defended.js';
import { saveDefended, trainRefine } from '../refine/defense.js';
import { argmaxRows, httpBlackBox, type BlackBox } from '../train/blackbox.js';
import { distillSurrogate } from '../train/distill.js';
import { predict } from '../train/evaluate.js';
import { folderStore } from '../train/resume.js';
import type { TrainConfig } from '../train/trainer.js';
import { readFloat32, readJson, sweepTempFiles, writeFileAtomic, writeJsonAtomic } from '../util/files.js';
import { Progress } from '../util/progress.js';
import { seededSubset } from '../data/dataset.js';
import { buildClassifier, defendedFromFiles, parseDefenseConfig, type BlackBoxEndpoint, type ClassifierSpec, type DefenseConfig } from './defense-config.js';
import { checkedRefine, checkOutputFolder, defenseConfig, evaluateBoth, finishDefense, pseudoLabelShares, sha256File, type BlackBoxReport, type DefenseReport, type DefenseRunOptions } from './defend.js';
import { completeGuard, describeGuard, guardedConfig } from './refine-presets.js';

export interface DefendBlackBoxOptions extends DefenseRunOptions {
  /** the endpoint and its protocol (the deployed defense queries the same one) */
  endpoint: BlackBoxEndpoint;
  /** the most images this invocation may send (default: no limit) */
  budget?: number;
  /** the surrogate's architecture (ResNet-18 or -50, stem, width); its classes and channels are the data's */
  surrogate: ClassifierSpec;
  /** distillation epochs over the unlabeled images (MSE on the probabilities) */
  distillEpochs: number;
  /** a black box other than the HTTP endpoint (tests, or a function in the library); its answers count as queries */
  blackBox?: BlackBox;
  /** images per save of the answers while querying (default 1,024: a kill loses at most this many queries) */
  answerChunk?: number;
  /** the refit after REFINE (default: defaultRefit of REFINE's epochs; null: none, the paper's setting) */
  refit?: RefitConfig | null;
}

/** The distillation's recipe: the classifier presets' SGD at a constant lr 0.1, no augmentation. */
export function distillConfig(epochs: number, batchSize: number, seed: number): TrainConfig {
  return { epochs, batchSize, lr: 0.1, momentum: 0.9, weightDecay: 5e-4, milestones: [], gamma: 0.1, augment: {}, seed };
}

/** The black box's answers on every unlabeled image, saved as they arrive and resumed from `file`. */
async function answers(bb: BlackBox, u: ImageDataset, what: string, file: string, chunk: number, log: (m: string) => void, quiet?: boolean): Promise<Float32Array> {
  const k = bb.numClasses;
  const out = new Float32Array(u.n * k);
  let done = 0;
  if (existsSync(file)) {
    const saved = readFloat32(file);
    if (saved.length % k !== 0 || saved.length > out.length) throw new Error(`${file}: ${saved.byteLength} bytes are not the answers for up to ${u.n} images of ${k} classes: delete it to query again`);
    out.set(saved);
    done = saved.length / k;
  }
  if (done === u.n) return out;
  log(`querying the black box on ${u.n - done} ${what}${done ? ` (${done} answered before)` : ''}`);
  const bar = quiet ? null : new Progress('black-box queries', u.n);
  const px = u.h * u.w * u.c;
  for (let i = done; i < u.n; i += chunk) {
    const n = Math.min(chunk, u.n - i);
    out.set(await bb.query({ images: u.images.subarray(i * px, (i + n) * px), n, h: u.h, w: u.w, c: u.c }), i * k);
    writeFileAtomic(file, new Uint8Array(out.buffer, 0, (i + n) * k * 4));
    bar?.update(i + n);
  }
  bar?.stop();
  return out;
}

/** Trains (or resumes) REFINE for the black box and writes the defended-model folder. */
export async function defendBlackBox(o: DefendBlackBoxOptions): Promise<DefenseReport> {
  const log = o.log ?? ((m: string) => console.error(m));
  checkOutputFolder(o.out, null, o.dataFolders);
  sweepTempFiles(o.out);
  const u = o.unlabeled;
  const k = o.classes.length;
  if (o.surrogate.numClasses !== k || o.surrogate.inChannels !== u.c) throw new Error(`the surrogate must have the data's ${k} classes and ${u.c} channels, got ${o.surrogate.numClasses} and ${o.surrogate.inChannels}`);
  if (!o.refine.renormalize) throw new Error('black-box REFINE needs renormalize on: the black box normalises its own inputs, so T(x) must be normalised before the surrogate in training');
  const refitCfg = o.refit === undefined ? defaultRefit(o.refine.epochs) : o.refit;
  if (refitCfg) checkRefit(refitCfg, o.refine.epochs);
  const prev = readJson<DefenseConfig>(join(o.out, 'defense.json'));
  if (prev && (!prev.blackBox || JSON.stringify(prev.requested) !== JSON.stringify(o.refine) || JSON.stringify(prev.refit ?? null) !== JSON.stringify(refitCfg) || prev.unlabeledImages !== u.n || prev.preset !== o.preset || prev.blackBox.url !== o.endpoint.url || prev.classifier.arch !== o.surrogate.arch || prev.classifier.width !== o.surrogate.width)) {
    throw new Error(`${o.out} holds a defense of another model or configuration (see its defense.json): choose another --out or delete it`);
  }
  const done = prev ? readJson<DefenseReport>(join(o.out, 'report.json')) : null;
  if (done) {
    log(`${o.out}: finished defense found (report.md), reported as it is`);
    return done;
  }
  const trainDir = join(o.out, 'train');
  if (o.budget !== undefined) checkBudget(o.budget, queriesNeeded(o, trainDir, refitCfg !== null, k));
  mkdirSync(trainDir, { recursive: true });
  const bb = o.blackBox ?? httpBlackBox({ ...o.endpoint, numClasses: k, budget: o.budget });
  if (bb.numClasses !== k) throw new Error(`the black box answers ${bb.numClasses} classes, ${k} class names were given`);
  const surrogate = buildClassifier(o.surrogate);
  try {
    // 1. one query per unlabeled image (kept), the surrogate distilled from the answers
    const teacher = await answers(bb, u, 'unlabeled images', join(trainDir, 'teacher.f32'), o.answerChunk ?? 1024, log, o.quiet);
    // (one per unlabeled image over every invocation: a resumed run's earlier answers count too)
    const distillQueries = u.n;
    const dcfg = distillConfig(o.distillEpochs, o.refine.batchSize, o.refine.seed + 5);
    log(`distilling a ${o.surrogate.arch} ×${o.surrogate.width} surrogate (${dcfg.epochs} epochs, MSE on the probabilities)`);
    const distill = await distillSurrogate(surrogate, u, teacher, dcfg, {
      normalization: o.normalization,
      store: folderStore(join(trainDir, 'distill'), { model: 'surrogate-last.safetensors', optimizer: 'surrogate-last-optimizer.safetensors', state: 'distill-state.json' }),
      progress: (label, total) => new Progress(label, total),
      quiet: o.quiet,
    });
    surrogate.freeze().eval();
    const plain = await predict(surrogate, u, { normalization: o.normalization });
    const answered = argmaxRows(teacher, k);
    const agree = plain.reduce((a, p, i) => a + (p === answered[i] ? 1 : 0), 0);
    // 2. the guard's checks on the surrogate (whose pseudo-labels REFINE trains on: no queries)
    const checked = await checkedRefine(surrogate, u, o, log);
    const surrogateFile = join(o.out, 'classifier.safetensors');
    await saveCheckpoint(surrogate, surrogateFile);
    const source = `surrogate distilled from the black box ${o.endpoint.url}`;
    let config: DefenseConfig = { ...defenseConfig(o, { ...o.surrogate, file: 'classifier.safetensors', sha256: sha256File(surrogateFile), source }, checked, prev?.createdAt, o.endpoint), ...(refitCfg ? { refit: refitCfg } : {}) };
    writeJsonAtomic(join(o.out, 'defense.json'), config);

    // 3. REFINE against the surrogate, deployed in front of the black box
    const refine = config.refine;
    const evalSet = o.test ? seededSubset(o.test, 1000, refine.seed + 29) : undefined;
    const res = await trainRefine(surrogate, u, refine, { normalization: o.normalization, numClasses: k, outDir: join(trainDir, 'refine'), quiet: o.quiet, evalSet });
    let defense = new BlackBoxDefense(res.defended.unet, res.defended.perm, bb, o.normalization);
    let refitReport: BlackBoxReport['refit'];
    let refitGuard: string | undefined;
    if (refitCfg) {
      // 4. the refit: T(x) queried, the surrogate distilled further, REFINE's last epochs again
      const answersFile = join(trainDir, 'teacher-T.f32');
      log(`the refit: querying the black box on T(x) of the ${u.n} unlabeled images, ${refitCfg.distillEpochs} more distillation epochs on x and T(x), REFINE's last ${refitCfg.refineEpochs} epochs again`);
      const f = await refitBlackBox(bb, surrogate, u, teacher, defense, refine, dcfg, refitCfg, {
        normalization: o.normalization,
        // saved as they arrive, like the distillation's (a killed run does not ask again)
        query: (t) => answers(bb, t, 'transformed images T(x)', answersFile, o.answerChunk ?? 1024, log, o.quiet),
        distillStore: folderStore(join(trainDir, 'refit-distill'), { model: 'surrogate-last.safetensors', optimizer: 'surrogate-last-optimizer.safetensors', state: 'distill-state.json' }),
        refineStore: folderStore(join(trainDir, 'refit-refine'), { model: 'unet-last.safetensors', optimizer: 'unet-last-optimizer.safetensors', state: 'refine-state.json' }),
        progress: (label, total) => new Progress(label, total),
        quiet: o.quiet,
        evalSet,
        // the guard again on the refitted surrogate (no queries): the answers on T(x) can carry more
        // of the black box's backdoor into it than the first distillation did (docs/method.md)
        configure: async (s) => {
          if (!o.refine.augmentationGuard) return refine;
          const { decision } = await completeGuard(undefined, s, u, o.refine, o.normalization, o.refine.seed, checked.decision);
          refitGuard = describeGuard(decision);
          log(`augmentation guard on the refitted surrogate (with the first check's): ${refitGuard}`);
          return { ...guardedConfig(o.refine, decision), batchSize: refine.batchSize };
        },
      });
      res.defended.unet.dispose();
      defense = f.defense;
      // the folder keeps the surrogate the deployed UNet was trained against
      surrogate.freeze().eval();
      await saveCheckpoint(surrogate, surrogateFile);
      config = { ...config, classifier: { ...config.classifier, sha256: sha256File(surrogateFile) } };
      writeJsonAtomic(join(o.out, 'defense.json'), config);
      refitReport = { queries: u.n, agreementBefore: f.agreementBefore, agreementAfter: f.agreementAfter, distill: f.distill, history: f.refine, ...(refitGuard ? { guard: refitGuard } : {}) };
    }
    await saveDefended(new DefendedModel(defense.unet, surrogate, defense.perm, o.normalization), o.out);
    const queried1 = bb.queries;
    const before = await evaluateBoth(async (ds) => argmaxRows(await queryImages(bb, ds), k), o);
    const after = await evaluateBoth((ds) => defense.predict(ds), o);
    const blackBox: BlackBoxReport = { url: o.endpoint.url, queries: { distill: distillQueries, evaluation: bb.queries - queried1 }, surrogateAgreement: agree / Math.max(1, u.n), distill, distillSeconds: distill.reduce((t, d) => t + d.seconds, 0), ...(refitReport ? { refit: refitReport } : {}) };
    const report = finishDefense(o, config, checked, pseudoLabelShares(plain, o.classes), res, { before, after }, trainDir, blackBox);
    defense.unet.dispose();
    return report;
  } finally {
    surrogate.dispose();
  }
}

/** The images this invocation still has to send, by purpose (answers saved by an earlier one are not asked again). */
function queriesNeeded(o: DefendBlackBoxOptions, trainDir: string, refit: boolean, k: number): { distill: number; refit: number; measurements: number } {
  const n = o.unlabeled.n;
  const saved = (f: string) => (existsSync(f) ? Math.floor(statSync(f).size / (4 * k)) : 0);
  return {
    distill: n - Math.min(n, saved(join(trainDir, 'teacher.f32'))),
    refit: refit ? n - Math.min(n, saved(join(trainDir, 'teacher-T.f32'))) : 0,
    // each measured image twice: the black box alone, and defended
    measurements: 2 * ((o.test?.n ?? 0) + (o.triggered?.n ?? 0)),
  };
}

/** Refuses a run that the budget would stop part-way, before anything is sent. */
function checkBudget(budget: number, need: { distill: number; refit: number; measurements: number }): void {
  const total = need.distill + need.refit + need.measurements;
  if (total <= budget) return;
  const parts = [`${need.distill} for the distillation`, ...(need.refit ? [`${need.refit} for the refit`] : []), ...(need.measurements ? [`${need.measurements} for the measurements`] : [])];
  throw new Error(`the query budget of ${budget} images is below the ${total} this run needs (${parts.join(', ')}): raise --blackbox-budget${need.refit ? ', turn the refit off (--blackbox-refit off)' : ''}${need.measurements ? ' or measure on fewer images' : ''}`);
}

/** The black box's answers on every image of `ds`. */
async function queryImages(bb: BlackBox, ds: ImageDataset): Promise<Float32Array> {
  return bb.query({ images: ds.images, n: ds.n, h: ds.h, w: ds.w, c: ds.c });
}


/**
 * The defense a black-box folder describes: its UNet and mapping in front of the black box
 * (defense.json's endpoint, or `url` where it moved; `blackBox` replaces the endpoint altogether).
 */
export function loadBlackBoxDefense(dir: string, o: { url?: string; budget?: number; blackBox?: BlackBox } = {}): { defense: BlackBoxDefense; config: DefenseConfig } {
  const defenseFile = join(dir, 'defense.json');
  if (!existsSync(defenseFile)) throw new Error(`${dir}: no defense.json of a defended model (made by npm run defend)`);
  const config = parseDefenseConfig(readFileSync(defenseFile, 'utf8'), dir);
  if (!config.blackBox) throw new Error(`${dir} defends a classifier file, not a black box: load it with loadDefended`);
  const file = join(dir, config.classifier.file);
  for (const f of [file, join(dir, 'unet.safetensors'), join(dir, 'mapping.json')]) if (!existsSync(f)) throw new Error(`${dir}: ${f.slice(dir.length + 1)} is missing`);
  const files = { defense: readFileSync(defenseFile, 'utf8'), classifier: readFileSync(file), unet: readFileSync(join(dir, 'unet.safetensors')), mapping: readFileSync(join(dir, 'mapping.json'), 'utf8') };
  const { defended } = defendedFromFiles(files, sha256File(file), dir, { surrogate: true });
  defended.classifier.dispose(); // (the surrogate: only the UNet and mapping are deployed)
  const bb = o.blackBox ?? httpBlackBox({ ...config.blackBox, ...(o.url ? { url: o.url } : {}), numClasses: config.classes.length, budget: o.budget });
  return { defense: new BlackBoxDefense(defended.unet, defended.perm, bb, config.input.normalization), config };
}
