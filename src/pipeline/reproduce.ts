/**
 * The REFINE experiment for one attack (issue "npm run reproduce"):
 *  1. the backdoored classifier: trained, or reused from its cached run folder (backdoor.ts);
 *  2. No Defense: BA on the clean test (sub)set, ASR on attack.poisonTest(test);
 *  3. ShrinkPad (docs/method.md) on both sets, pad = shrinkPadFor(image size);
 *  4. REFINE trained on unlabeled clean training images (resumes from <attack>/refine), evaluated;
 *  5. optionally the ablations w/o HRF (identity mapping) and w/o SCL (λ = 0);
 *  6. figures: samples grid (paper Fig. 6) and training curves.
 * Everything goes to <out>/<attack>/: result.json (rewritten after every stage, status
 * 'incomplete' until the end: a rerun reuses the finished stages and resumes REFINE training),
 * refine/, ablation-wo-hrf/, ablation-wo-scl/ (UNet checkpoints, per-epoch state, mapping) and
 * figures/. A collapse of the UNet is detected and reported, never retried.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { seededSubset, subset, type ImageDataset, type Normalization } from '../data/dataset.js';
import { clearRefineRun, loadDefendedModel, saveDefended, trainRefine } from '../refine/defense.js';
import type { AugmentationCheck } from '../refine/diagnostics.js';
import { shrinkPadDataset } from '../refine/shrinkpad.js';
import { configHash } from '../train/trainer.js';
import type { ClassifierPreset } from '../train/presets.js';
import { trainBackdoored, createAttack, type BackdoorSpec } from './backdoor.js';
import { readJson, writeJsonAtomic } from '../util/files.js';
import { reuseBaselines } from './results-store.js';
import { attackDir, figureFiles, VARIANT_DIRS } from './run-folders.js';
import { evaluate } from './scoring.js';

export { attackDir, isComplete, reuseBaselines } from './results-store.js';
import { describeGuard, GUARD_PROBE_NAMES, GUARD_PROBES, guardDecision, guardedConfig, guardFired, lacksGuardProbe, runGuardChecks, shrinkPadFor, type RefinePreset } from './refine-presets.js';
import type { AttackResult, Metric, RefineRunSummary, Variant } from './report.js';
import { curvesFigure, samplesFigure } from './figures.js';

export interface ReproduceData {
  /** the classifier's training set (preset subset applied) */
  train: ImageDataset;
  /** the full clean training set (REFINE's unlabeled data is drawn from it) */
  fullTrain: ImageDataset;
  test: ImageDataset;
  normalization: Normalization;
}

export interface ReproduceOptions {
  /** attack registry name */
  attack: string;
  dataset: string;
  preset: string;
  /** name of the REFINE preset `refine` came from (reported; the numbers depend on `refine` itself) */
  refinePreset?: string;
  classifier: ClassifierPreset;
  refine: RefinePreset;
  target?: number;
  attackOptions?: Record<string, unknown>;
  /** results folder of the whole run; this attack writes <outRoot>/<attack>/ */
  outRoot: string;
  /** backdoored model folder (default: the attack command's folder for this configuration) */
  backdoorDir?: string;
  /** runs/ root of the backdoored model folders (default 'runs') */
  runsRoot?: string;
  ablations: boolean;
  /** evaluate on this many test images (seeded subset); all when undefined */
  evalSubset?: number;
  /** per-epoch BA of the REFINE curves on this many of the evaluation images (0: none) */
  curveEval: number;
  /** collapse threshold on the max class share of the defended predictions (trainRefine's default 0.6) */
  collapseShare?: number;
  /**
   * Results folders searched for this attack's No Defense / ShrinkPad numbers and augmentation
   * check of the same backdoored model and test set (default: the siblings of outRoot, e.g.
   * results/*): a run with other REFINE options (a new --out) reuses them instead of spending
   * ~10 minutes on recomputing them. An empty list turns it off.
   */
  baselineRoots?: string[];
  engine: { name: string; version: string };
  adapter: string;
  log?: (msg: string) => void;
  quiet?: boolean;
}

/** The output folder holds results of another configuration (nothing is touched). */
export class ConfigMismatchError extends Error {}

const VARIANTS: { v: Variant; dir: string; mod: (c: RefinePreset) => RefinePreset }[] = [
  { v: 'refine', dir: VARIANT_DIRS.refine, mod: (c) => c },
  { v: 'woHRF', dir: VARIANT_DIRS.woHRF, mod: (c) => ({ ...c, mapping: 'identity' }) },
  { v: 'woSCL', dir: VARIANT_DIRS.woSCL, mod: (c) => ({ ...c, lambda: 0 }) },
];

/** The configuration hash of an attack's experiment (what determines its numbers). */
export function experimentHash(o: Pick<ReproduceOptions, 'attack' | 'dataset' | 'classifier' | 'refine' | 'target' | 'attackOptions' | 'evalSubset' | 'curveEval' | 'collapseShare'>, pad: number, testImages: number): string {
  return configHash({
    attack: o.attack,
    dataset: o.dataset,
    classifier: o.classifier,
    refine: o.refine,
    target: o.target ?? 0,
    attackOptions: o.attackOptions ?? {},
    evalSubset: o.evalSubset ?? null,
    curveEval: o.curveEval,
    collapseShare: o.collapseShare ?? 0.6,
    pad,
    testImages,
  });
}

/** Whether the result holds variant `v` trained with another configuration than `cfg`. */
function trainedOtherwise(r: AttackResult, v: Variant, cfg: RefinePreset): boolean {
  const run = r.refine[v];
  return run !== undefined && configHash(run.config) !== configHash(cfg);
}

/** Runs (or resumes) the experiment of one attack; returns its result (also in <out>/<attack>/result.json). */
export async function reproduceAttack(o: ReproduceOptions, data: ReproduceData): Promise<AttackResult> {
  const t0 = performance.now();
  const log = o.log ?? ((m: string) => console.error(m));
  const dir = attackDir(o.outRoot, o.attack);
  const resultFile = join(dir, 'result.json');
  const { normalization } = data;
  const target = o.target ?? 0;
  const seed = o.classifier.seed;
  const collapseShare = o.collapseShare ?? 0.6;
  const pad = shrinkPadFor(Math.min(data.test.h, data.test.w));
  const test = seededSubset(data.test, o.evalSubset, seed + 29, `${data.test.name}[eval]`);
  const hash = experimentHash(o, pad, test.n);

  const prev = readJson<AttackResult>(resultFile);
  if (prev && prev.configHash !== hash) {
    throw new ConfigMismatchError(`${dir} holds results of another configuration (${prev.configHash} ≠ ${hash}): use another --out or delete that folder`);
  }
  // a result from before one of the guard's probes is completed by it (and retrained where the probe changes the guard's remedy)
  const lacksCheck = Boolean(o.refine.augmentationGuard) && lacksGuardProbe(prev?.diagnostics);
  // a result trained with another remedy than this code gives its guard decision (a probe's
  // remedy changed since): its variants are trained again (the loop below finds which)
  const decided = prev?.diagnostics?.guard;
  const staleRemedy = Boolean(o.refine.augmentationGuard) && decided !== undefined && VARIANTS.some(({ v, mod }) => trainedOtherwise(prev!, v, mod(guardedConfig(o.refine, decided))));
  if (prev?.status === 'complete' && staleRemedy) log(`${o.attack}: ${resultFile} was trained with another remedy of the augmentation guard than this version's: training REFINE again`);
  // figures of an older format (or deleted) are redrawn from the saved models, nothing retrained
  const figures = figureFiles(o.outRoot, o.attack);
  const staleFigures = Boolean(prev?.refine.refine) && !figures.every(existsSync);
  if (prev?.status === 'complete' && !lacksCheck && !staleRemedy && !staleFigures && (!o.ablations || (prev.evaluation.woHRF && prev.evaluation.woSCL))) {
    log(`${o.attack}: complete in ${resultFile}, skipped`);
    return prev;
  }
  const refineData = seededSubset(data.fullTrain, o.refine.trainSubset, seed + 17, `${data.fullTrain.name}[refine]`);
  const spec: BackdoorSpec = {
    attack: o.attack,
    dataset: o.dataset,
    presetName: o.preset,
    preset: o.classifier,
    target,
    attackOptions: o.attackOptions,
    out: o.backdoorDir,
  };
  const probe = createAttack(spec, data.train);
  const asrSet = probe.poisonTest(test);
  const r: AttackResult = {
    status: 'incomplete',
    attack: o.attack,
    dataset: o.dataset,
    preset: o.preset,
    ...(o.refinePreset ? { refinePreset: o.refinePreset } : {}),
    seed,
    configHash: hash,
    engine: { ...o.engine, node: process.version },
    adapter: o.adapter,
    config: {
      classifier: o.classifier,
      refine: o.refine,
      target,
      attackParams: probe.params(),
      evalSubset: o.evalSubset ?? null,
      curveEvalImages: Math.min(o.curveEval, test.n),
      shrinkPadPad: pad,
      ablations: o.ablations || Boolean(prev?.evaluation.woHRF && prev?.evaluation.woSCL),
      collapseShare,
      seeds: { classifier: seed, attack: seed, refine: o.refine.seed, refineSubset: seed + 17, evalSubset: seed + 29, shrinkPadClean: seed, shrinkPadPoisoned: seed + 1, augmentationCheck: seed + 41, photometricCheck: seed + GUARD_PROBES.photometric.seedOffset, rotationCheck: seed + GUARD_PROBES.rotation.seedOffset },
    },
    data: { testImages: test.n, asrImages: asrSet.n, refineImages: refineData.n, classes: test.classes },
    evaluation: { ...(prev?.evaluation ?? {}) },
    refine: { ...(prev?.refine ?? {}) },
    diagnostics: { ...(prev?.diagnostics ?? {}) },
    baselinesFrom: prev?.baselinesFrom,
    figures: prev?.figures ?? [],
    wallSeconds: { ...(prev?.wallSeconds ?? {}) },
    startedAt: prev?.startedAt ?? new Date().toISOString(),
    updatedAt: new Date().toISOString(),
  };
  const save = () => {
    r.updatedAt = new Date().toISOString();
    writeJsonAtomic(resultFile, r);
  };
  save();

  // 1. the backdoored classifier
  log(`[${o.attack}] 1/5 backdoored classifier`);
  const tb = performance.now();
  const bd = await trainBackdoored(spec, { train: data.train, test: data.test, normalization }, { log, adapter: o.adapter, quiet: o.quiet });
  r.backdoor = { dir: bd.out, reused: bd.cached, trainBA: bd.summary.BA, trainASR: bd.summary.ASR, wallSeconds: bd.summary.wallSeconds };
  r.wallSeconds.backdoor = bd.cached ? bd.summary.wallSeconds : (performance.now() - tb) / 1000;
  save();
  const model = bd.model;
  const attack = bd.attack;
  try {
    // 2–3. No Defense and ShrinkPad (measured already by a run with other REFINE options?)
    if (!r.evaluation.noDefense && !r.evaluation.shrinkPad) {
      const from = reuseBaselines(r, o.baselineRoots ?? [dirname(o.outRoot)], dir);
      if (from) {
        log(`[${o.attack}] No Defense / ShrinkPad${r.diagnostics?.augmentation ? ' / augmentation check' : ''} of the same model and test sets reused from ${from}`);
        save();
      }
    }
    log(`[${o.attack}] 2/5 No Defense and ShrinkPad (pad ${pad}) on ${test.n} clean / ${asrSet.n} poisoned images`);
    if (!r.evaluation.noDefense) {
      r.evaluation.noDefense = await evaluate(model, test, asrSet, normalization, 'No Defense', o.quiet);
      save();
    }
    if (!r.evaluation.shrinkPad) {
      r.evaluation.shrinkPad = await evaluate(model, shrinkPadDataset(test, pad, seed), shrinkPadDataset(asrSet, pad, seed + 1), normalization, 'ShrinkPad', o.quiet);
      save();
    }
    r.wallSeconds.evaluation = (r.evaluation.noDefense.seconds ?? 0) + (r.evaluation.shrinkPad.seconds ?? 0);
    log(`[${o.attack}] No Defense BA/ASR ${fmt(r.evaluation.noDefense)} | ShrinkPad ${fmt(r.evaluation.shrinkPad)}`);
    // does REFINE's own augmentation fire the backdoor (and so poison its pseudo-labels)? and the
    // guard's probes, transforms a trigger may resemble? (kept in the result once measured)
    const d = r.diagnostics!;
    const checks = await runGuardChecks(model, refineData, o.refine, normalization, seed, d);
    const fresh = (['augmentation', ...GUARD_PROBE_NAMES] as const).filter((k) => checks[k] && checks[k] !== d[k]);
    if (fresh.length) {
      for (const k of fresh) d[k] = checks[k];
      save();
    }
    log(`[${o.attack}] REFINE's augmentation ${describeCheck(checks.augmentation)}`);
    for (const p of GUARD_PROBE_NAMES) if (checks[p]) log(`[${o.attack}] ${GUARD_PROBES[p].label} ${describeCheck(checks[p])}`);
    // the augmentation guard: decided from the label-free checks, so a defender who does not know the attack gets it
    const decision = guardDecision(o.refine, checks);
    if (o.refine.augmentationGuard) {
      r.diagnostics!.augmentationGuard = guardFired(decision) ? 'applied' : 'not needed';
      r.diagnostics!.guard = decision;
      log(`[${o.attack}] augmentation guard: ${describeGuard(decision)}`);
    }

    // 4–5. REFINE and the ablations
    const firstOf = (ds: ImageDataset, n: number) => subset(ds, Int32Array.from({ length: Math.min(n, ds.n) }, (_, i) => i), `${ds.name}[curve]`);
    const curveSet = o.curveEval > 0 ? firstOf(test, o.curveEval) : undefined;
    const asrCurveSet = o.curveEval > 0 && asrSet.n ? firstOf(asrSet, o.curveEval) : undefined;
    const wanted = VARIANTS.filter((x) => x.v === 'refine' || r.config.ablations);
    for (const [n, { v, dir: sub, mod }] of wanted.entries()) {
      const cfg = mod(guardedConfig(o.refine, decision));
      const vdir = join(dir, sub);
      const cfgFile = join(vdir, 'config.json');
      const cfgHash = configHash({ cfg, data: refineData.n, model: bd.summary.runHash });
      const prevCfg = readJson<{ hash: string }>(cfgFile);
      if ((prevCfg && prevCfg.hash !== cfgHash) || trainedOtherwise(r, v, cfg)) {
        // the experiment's own hash matched, so what changed is the guard's remedy (a check added
        // since) or the backdoored model: this variant is trained again from the start
        log(`[${o.attack}] ${vdir} was trained with another REFINE configuration (the augmentation guard's remedy or the model changed): training it again`);
        delete r.evaluation[v];
        delete r.refine[v];
        clearRefineRun(vdir);
        save();
      }
      if (r.evaluation[v] && r.refine[v]) continue;
      writeJsonAtomic(cfgFile, { hash: cfgHash, config: cfg, trainImages: refineData.n, classifier: bd.out });
      log(`[${o.attack}] ${n === 0 ? '3/5' : '4/5'} ${v === 'refine' ? 'REFINE' : `ablation ${v}`}: ${cfg.epochs} epochs on ${refineData.n} unlabeled images, UNet c = ${cfg.unetChannels}, batch ${cfg.batchSize}`);
      const res = await trainRefine(model, refineData, cfg, { normalization, numClasses: data.test.classes.length, outDir: vdir, evalSet: curveSet, asrSet: asrCurveSet, quiet: o.quiet, collapseShare });
      await saveDefended(res.defended, vdir, { attack: o.attack, variant: v });
      const metric = await evaluate(res.defended, test, asrSet, normalization, v === 'refine' ? 'REFINE' : v, o.quiet);
      const last = res.history[res.history.length - 1];
      // collapse at evaluation: the defended predictions pile onto one class while the
      // classifier's own predictions do not (a classifier that already predicts one class is not a REFINE collapse)
      const collapsedAtEval = (metric.maxClassShare ?? 0) > collapseShare && (r.evaluation.noDefense.maxClassShare ?? 0) <= collapseShare;
      const summary: RefineRunSummary = {
        variant: v,
        dir: vdir,
        config: cfg,
        history: res.history,
        collapsedEpochs: res.history.filter((h) => h.collapsed).map((h) => h.epoch),
        collapsed: Boolean(last?.collapsed) || collapsedAtEval,
        perm: Array.from(res.defended.perm),
        trainImages: refineData.n,
        wallSeconds: res.wallSeconds,
      };
      r.evaluation[v] = metric;
      r.refine[v] = summary;
      r.wallSeconds[v] = res.wallSeconds;
      if (summary.collapsed) {
        log(
          `[${o.attack}] ⚠ ${v === 'refine' ? 'REFINE' : v} COLLAPSED: ${(100 * (metric.maxClassShare ?? 0)).toFixed(0)}% of the clean test images go to one class` +
            (summary.collapsedEpochs.length ? ` (flagged in epoch(s) ${summary.collapsedEpochs.join(', ')})` : '') +
            ' — reported as is, no retry.',
        );
      }
      log(`[${o.attack}] ${v === 'refine' ? 'REFINE' : v} BA/ASR ${fmt(metric)}, final agreement ${last ? (100 * last.agreement).toFixed(1) : '?'}%`);
      if (v === 'refine') {
        await samplesFigure(figures[0], model, res.defended, attack, test, normalization);
      }
      res.defended.unet.dispose();
      save();
    }
    // samples figure missing (e.g. deleted): redraw from the saved REFINE model
    const [fig, curves] = figures;
    if (!existsSync(fig) && r.refine.refine) {
      const defended = loadDefendedModel(r.refine.refine.dir, model, { firstChannels: r.refine.refine.config.unetChannels, channels: test.c });
      await samplesFigure(fig, model, defended, attack, test, normalization);
      defended.unet.dispose();
    }
    curvesFigure(curves, r.refine, r.evaluation.noDefense);
    // the pipeline's own figures of an older format go (it wrote them, in its own folder)
    const figDir = resolve(dir, 'figures');
    for (const f of r.figures) if (!figures.includes(f) && dirname(resolve(f)) === figDir && existsSync(f)) rmSync(f);
    r.figures = figures;
    r.wallSeconds.total = (r.wallSeconds.backdoor ?? 0) + (r.wallSeconds.evaluation ?? 0) + (r.wallSeconds.refine ?? 0) + (r.wallSeconds.woHRF ?? 0) + (r.wallSeconds.woSCL ?? 0);
    r.wallSeconds.thisInvocation = (performance.now() - t0) / 1000;
    r.status = 'complete';
    delete r.error;
    save();
    return r;
  } finally {
    model.dispose();
  }
}

/** What an augmentation check found, for the log. */
function describeCheck(a: AugmentationCheck): string {
  return `changes ${(100 * a.changed).toFixed(1)}% of ${a.images} pseudo-labels; ${(100 * a.topChangedToShare).toFixed(0)}% of the changes go to class ${a.topChangedTo} (its share ${(100 * a.plainShares[a.topChangedTo]!).toFixed(1)}% → ${(100 * a.augmentedShares[a.topChangedTo]!).toFixed(1)}%)`;
}

function fmt(m: Metric | undefined): string {
  return m ? `${(100 * m.BA).toFixed(2)}/${(100 * m.ASR).toFixed(2)}` : '—';
}

/** Reads <outRoot>/<attack>/result.json of each attack that has one. */
export function readResults(outRoot: string, names: string[]): AttackResult[] {
  return names.map((a) => readJson<AttackResult>(join(attackDir(outRoot, a), 'result.json'))).filter((x): x is AttackResult => x !== null);
}

/** Marks an attack's result as failed (kept incomplete for the next run), with the error message. */
export function markFailed(outRoot: string, attack: string, error: string): void {
  const file = join(attackDir(outRoot, attack), 'result.json');
  const r = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as AttackResult) : null;
  if (!r) return;
  r.status = 'failed';
  r.error = error;
  r.updatedAt = new Date().toISOString();
  writeJsonAtomic(file, r);
}
