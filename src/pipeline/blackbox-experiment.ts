/**
 * The paper's Table 11 for one attack (`npm run reproduce -- --attack badnets --blackbox`): the
 * backdoored classifier is a ResNet-50 (the same attack and recipe as the normal run, `depth`
 * 50) seen only through its probabilities; a ResNet-18 surrogate is distilled from it on REFINE's
 * unlabeled images, REFINE is trained against the surrogate (with `renormalize`, which a black
 * box needs: docs/method.md, "Black-box REFINE") and deployed in front of the black box. Rows:
 * No Defense of the black box and of the surrogate, REFINE on the surrogate and on the black box,
 * and the queries spent. The augmentation guard (when the preset has it) runs its label-free
 * checks on the surrogate, the model whose pseudo-labels REFINE trains on, so it costs no query.
 * Then, unless turned off, the refit (refine/blackbox-refit.ts, a deviation: docs/method.md, "The
 * refit"), reported beside the paper's row.
 * Everything goes to <out>/<attack>/blackbox/: blackbox.json (rewritten after every stage; a rerun
 * resumes), teacher.f32 (the black box's answers, so a resumed run does not query again),
 * distill/, refine/, and refit/ (teacher-T.f32, the answers on T(x); distill/, refine/). A rerun
 * with another REFINE configuration keeps the answers and the surrogate and trains only REFINE
 * (and the refit) again; a finished run asked for the refit runs only the refit.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { seededSubset, type ImageDataset } from '../data/dataset.js';
import { loadCheckpoint, saveCheckpoint } from '../nn/checkpoint.js';
import { UNet } from '../nn/unet.js';
import { BlackBoxDefense, blackBoxRefine } from '../refine/blackbox-defense.js';
import { refitBlackBox, type RefitConfig } from '../refine/blackbox-refit.js';
import { DefendedModel } from '../refine/defended.js';
import { moduleBlackBox } from '../train/blackbox.js';
import { queryAll } from '../train/distill.js';
import { hits } from '../train/evaluate.js';
import { folderStore } from '../train/resume.js';
import { configHash } from '../train/trainer.js';
import { Progress } from '../util/progress.js';
import { readFloat32, readJson, writeFileAtomic, writeJsonAtomic } from '../util/files.js';
import { defaultBackdoorDir, newResNet, trainBackdoored, type BackdoorSpec } from './backdoor.js';
import { blackboxDir } from './run-folders.js';
import { completeGuard, describeGuard, guardedConfig, type GuardRecord } from './refine-presets.js';
import { evaluate } from './scoring.js';
import { displayName, type Metric } from './report.js';
import type { ReproduceData, ReproduceOptions } from './reproduce.js';

export interface BlackBoxOptions {
  /** distillation epochs over REFINE's unlabeled images (default 10; the paper gives none) */
  distillEpochs: number;
  /**
   * The refit after REFINE (blackbox-refit.ts; a deviation, reported beside the paper's setting,
   * which is always run first): its configuration, or null for none
   */
  refit?: RefitConfig | null;
}

export const BLACKBOX_DEFAULTS: BlackBoxOptions = { distillEpochs: 10 };

/** What the refit adds to a black-box run (blackbox.json's `refit`). */
export interface RefitRecord {
  status: 'incomplete' | 'complete';
  hash: string;
  config: RefitConfig;
  /** the surrogate's argmax agreement with the black box on T(x) of the unlabeled images, before and after the refit */
  agreementBefore?: number;
  agreementAfter?: number;
  /** REFINE after the refit, against the refitted surrogate and in front of the black box */
  refineSurrogate?: Metric;
  refineBlackBox?: Metric;
  queries: { transformed?: number; evaluation?: number };
  wallSeconds: { distill?: number; refine?: number };
  /**
   * the augmentation guard's checks on the refitted surrogate; its decision joins the first
   * stage's (a remedy that fired on either surrogate applies to the refit's epochs)
   */
  guard?: GuardRecord;
}

export interface BlackBoxResult {
  status: 'incomplete' | 'complete';
  attack: string;
  configHash: string;
  /** the stages before REFINE alone (black box, its answers, the distillation) */
  surrogateHash?: string;
  /** the augmentation guard's checks on the surrogate and its decision (when the preset has the guard) */
  guard?: GuardRecord;
  /** the black box's run folder (ResNet-50) */
  blackBoxDir?: string;
  noDefenseBlackBox?: Metric;
  noDefenseSurrogate?: Metric;
  /** share of the unlabeled images on which the surrogate's argmax equals the black box's, after distillation */
  surrogateAgreement?: number;
  refineSurrogate?: Metric;
  refineBlackBox?: Metric;
  /** black-box queries (images): for the distillation and for the evaluation of the deployed defense */
  queries: { distill?: number; evaluation?: number };
  wallSeconds: { blackBox?: number; distill?: number; refine?: number };
  /** the refit (when asked for), after the rows above */
  refit?: RefitRecord;
}

/** Runs (or resumes) the black-box experiment of one attack. */
export async function blackBoxExperiment(o: ReproduceOptions, data: ReproduceData, b: BlackBoxOptions): Promise<BlackBoxResult> {
  const log = o.log ?? ((m: string) => console.error(m));
  const dir = blackboxDir(o.outRoot, o.attack);
  const file = join(dir, 'blackbox.json');
  const bbPreset = { ...o.classifier, depth: 50 as const };
  const refineCfg = { ...o.refine, renormalize: true };
  const distillCfg = { ...o.classifier, epochs: b.distillEpochs, milestones: [], augment: {} };
  const hash = configHash({ bbPreset, refineCfg, distillCfg, attack: o.attack, target: o.target ?? 0, opts: o.attackOptions ?? {} });
  // (the answers depend on the black box and the unlabeled images, the surrogate also on the distillation)
  const surrogateHash = configHash({ bbPreset, distillCfg, attack: o.attack, target: o.target ?? 0, opts: o.attackOptions ?? {}, images: [o.refine.trainSubset ?? null, o.classifier.seed + 17] });
  const teacherFile = join(dir, 'teacher.f32');
  let prev = readJson<BlackBoxResult>(file);
  if (prev && prev.configHash !== hash) {
    if (prev.surrogateHash !== surrogateHash || !existsSync(teacherFile)) throw new Error(`${dir} holds a black-box run of another configuration: delete it or use another --out`);
    // same black box and surrogate, another REFINE configuration: keep the answers and the distillation
    log(`[${o.attack}] black box: its answers and the surrogate in ${dir} are reused; REFINE runs again (its configuration changed)`);
    rmSync(join(dir, 'refine'), { recursive: true, force: true });
    const { blackBoxDir, noDefenseBlackBox, noDefenseSurrogate, surrogateAgreement } = prev;
    prev = { status: 'incomplete', attack: o.attack, configHash: hash, surrogateHash, blackBoxDir, noDefenseBlackBox, noDefenseSurrogate, surrogateAgreement, queries: { distill: prev.queries.distill }, wallSeconds: { blackBox: prev.wallSeconds.blackBox, distill: prev.wallSeconds.distill } };
  }
  // (`guard`: the refit's epochs follow the guard rerun on the refitted surrogate; refits from
  // before that hash differently and run their REFINE epochs again)
  const refitHash = b.refit ? configHash({ hash, refit: b.refit, guard: 'refitted surrogate' }) : null;
  if (prev?.status === 'complete' && (!refitHash || (prev.refit?.status === 'complete' && prev.refit.hash === refitHash))) return prev;
  const r: BlackBoxResult = prev ?? { status: 'incomplete', attack: o.attack, configHash: hash, surrogateHash, queries: {}, wallSeconds: {} };
  const save = () => writeJsonAtomic(file, r);
  save();

  const { normalization } = data;
  const seed = o.classifier.seed;
  const k = data.test.classes.length;
  // 1. the black box: the same attack on a ResNet-50 (its own run folder, reused when trained)
  const spec: BackdoorSpec = { attack: o.attack, dataset: o.dataset, presetName: o.preset, preset: bbPreset, target: o.target ?? 0, attackOptions: o.attackOptions };
  spec.out = defaultBackdoorDir(spec, o.runsRoot ?? 'runs');
  const t0 = performance.now();
  const bd = await trainBackdoored(spec, { train: data.train, test: data.test, normalization }, { log, adapter: o.adapter, quiet: o.quiet });
  if (!r.wallSeconds.blackBox) r.wallSeconds.blackBox = bd.cached ? bd.summary.wallSeconds : (performance.now() - t0) / 1000;
  r.blackBoxDir = bd.out;
  const test = seededSubset(data.test, o.evalSubset, seed + 29, `${data.test.name}[eval]`);
  const asrSet = bd.attack.poisonTest(test);
  const surrogate = newResNet(data.train, { ...o.classifier, depth: 18 });
  try {
    if (!r.noDefenseBlackBox) {
      r.noDefenseBlackBox = await evaluate(bd.model, test, asrSet, normalization, 'black box No Defense', o.quiet);
      save();
    }
    const refineData = seededSubset(data.fullTrain, o.refine.trainSubset, seed + 17, `${data.fullTrain.name}[refine]`);
    const bb = moduleBlackBox(bd.model, k, normalization);
    // a defense against the surrogate, and deployed in front of the black box (each image one query there)
    const measure = async (d: BlackBoxDefense, label: string) => {
      const onSurrogate = await evaluate(new DefendedModel(d.unet, surrogate, d.perm, normalization), test, asrSet, normalization, `${label} on the surrogate`, o.quiet);
      const before = bb.queries;
      const onBlackBox = await deployedMetric(d, test, asrSet);
      return { onSurrogate, onBlackBox, queries: bb.queries - before };
    };

    // 2. distillation (one query per unlabeled image, answers kept) and REFINE against the surrogate
    const faithfulStage = async (): Promise<void> => {
      let teacher: Float32Array | undefined;
      if (existsSync(teacherFile)) teacher = readF32(teacherFile, refineData.n * k);
      else {
        log(`[${o.attack}] black box: querying its probabilities on ${refineData.n} unlabeled images`);
        const bar = o.quiet ? null : new Progress('black-box queries', refineData.n);
        teacher = await queryAll(bb, refineData, 1024, (done) => bar?.update(done));
        bar?.stop();
        writeFileAtomic(teacherFile, new Uint8Array(teacher.buffer, teacher.byteOffset, teacher.byteLength));
        r.queries.distill = bb.queries;
        save();
      }
      log(`[${o.attack}] black box: distilling a ResNet-18 surrogate (${distillCfg.epochs} epochs, MSE on the probabilities), then REFINE against it`);
      const res = await blackBoxRefine(bb, surrogate, refineData, distillCfg, refineCfg, {
        normalization,
        teacher,
        distillStore: folderStore(join(dir, 'distill'), { model: 'surrogate-last.safetensors', optimizer: 'surrogate-last-optimizer.safetensors', state: 'distill-state.json' }),
        refineStore: folderStore(join(dir, 'refine'), { model: 'unet-last.safetensors', optimizer: 'unet-last-optimizer.safetensors', state: 'refine-state.json' }),
        progress: (label, total) => new Progress(label, total),
        quiet: o.quiet,
        // the augmentation guard on the surrogate: its pseudo-labels are the ones REFINE trains on
        configure: async (s) => {
          if (!refineCfg.augmentationGuard) return refineCfg;
          const g = await completeGuard(r.guard, s, refineData, refineCfg, normalization, seed);
          if (g !== r.guard) {
            r.guard = g;
            save();
          }
          log(`[${o.attack}] black box: augmentation guard on the surrogate: ${describeGuard(r.guard.decision)}`);
          return guardedConfig(refineCfg, r.guard.decision);
        },
      });
      r.wallSeconds.distill = res.distill.reduce((a, l) => a + l.seconds, 0);
      // (from the epoch logs, which a resumed run carries over: training time across every session)
      r.wallSeconds.refine = res.refine.reduce((a, l) => a + l.seconds, 0);
      r.surrogateAgreement = res.distill[res.distill.length - 1]?.agreement;
      await saveCheckpoint(surrogate, join(dir, 'surrogate.safetensors'));
      surrogate.eval();
      r.noDefenseSurrogate ??= await evaluate(surrogate, test, asrSet, normalization, 'surrogate No Defense', o.quiet);
      const m = await measure(res.defense, 'REFINE');
      [r.refineSurrogate, r.refineBlackBox, r.queries.evaluation] = [m.onSurrogate, m.onBlackBox, m.queries];
      r.status = 'complete';
      save();
      res.defense.unet.dispose();
    };

    // 3. the refit (a deviation, after the paper's setting): the black box queried on T(x), the
    // surrogate distilled further on x and T(x), REFINE's last epochs trained again against it
    const refitStage = async (cfg: RefitConfig, rhash: string): Promise<void> => {
      const rdir = join(dir, 'refit');
      if (r.refit?.hash !== rhash) {
        const old = r.refit;
        if (!old) rmSync(rdir, { recursive: true, force: true });
        else {
          // another refit after the same first stage: T(x) and the black box's answers on it are
          // the same, and so is the refit distillation when its settings are
          rmSync(join(rdir, 'refine'), { recursive: true, force: true });
          if (old.config.distillEpochs !== cfg.distillEpochs || old.config.distillLr !== cfg.distillLr) rmSync(join(rdir, 'distill'), { recursive: true, force: true });
        }
        const transformed = old?.queries.transformed;
        r.refit = { status: 'incomplete', hash: rhash, config: cfg, queries: transformed === undefined ? {} : { transformed }, wallSeconds: {} };
        save();
      }
      const rec = r.refit;
      log(`[${o.attack}] black box: the refit (${cfg.distillEpochs} distillation epochs on x and T(x) at lr ${cfg.distillLr}, REFINE's last ${cfg.refineEpochs} epochs again)`);
      // everything from the files of the finished stage 2, as a resumed run finds them
      const teacher = readF32(teacherFile, refineData.n * k);
      loadCheckpoint(surrogate, join(dir, 'surrogate.safetensors'));
      const unet = new UNet({ firstChannels: o.refine.unetChannels, channels: data.train.c });
      loadCheckpoint(unet, join(dir, 'refine', 'unet-last.safetensors'));
      const { perm } = JSON.parse(readFileSync(join(dir, 'refine', 'refine-state.json'), 'utf8')) as { perm: number[] };
      const answersFile = join(rdir, 'teacher-T.f32');
      const refineUsed = r.guard ? guardedConfig(refineCfg, r.guard.decision) : refineCfg;
      try {
        const res = await refitBlackBox(bb, surrogate, refineData, teacher, new BlackBoxDefense(unet, Int32Array.from(perm), bb, normalization), refineUsed, distillCfg, cfg, {
          normalization,
          // the answers on T(x) kept in the run folder (a resumed run does not query again)
          query: async (t) => {
            if (existsSync(answersFile)) return readF32(answersFile, refineData.n * k);
            const a = await queryAll(bb, t);
            mkdirSync(rdir, { recursive: true });
            writeFileAtomic(answersFile, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
            rec.queries.transformed = refineData.n;
            save();
            return a;
          },
          distillStore: folderStore(join(rdir, 'distill'), { model: 'surrogate-last.safetensors', optimizer: 'surrogate-last-optimizer.safetensors', state: 'distill-state.json' }),
          refineStore: folderStore(join(rdir, 'refine'), { model: 'unet-last.safetensors', optimizer: 'unet-last-optimizer.safetensors', state: 'refine-state.json' }),
          progress: (label, total) => new Progress(label, total),
          quiet: o.quiet,
          // the guard again, on the refitted surrogate (no queries): the answers on T(x) can carry
          // more of the black box's backdoor into it than the first distillation did
          configure: async (s) => {
            if (!refineCfg.augmentationGuard) return refineUsed;
            const g = await completeGuard(rec.guard, s, refineData, refineCfg, normalization, seed, r.guard?.decision);
            if (g !== rec.guard) {
              rec.guard = g;
              save();
            }
            log(`[${o.attack}] black box: augmentation guard on the refitted surrogate (with the first stage's): ${describeGuard(rec.guard.decision)}`);
            return guardedConfig(refineCfg, rec.guard.decision);
          },
        });
        rec.agreementBefore = res.agreementBefore;
        rec.agreementAfter = res.agreementAfter;
        rec.wallSeconds = { distill: res.distill.reduce((a, l) => a + l.seconds, 0), refine: res.refine.reduce((a, l) => a + l.seconds, 0) };
        save();
        const m = await measure(res.defense, 'REFINE + refit');
        [rec.refineSurrogate, rec.refineBlackBox, rec.queries.evaluation] = [m.onSurrogate, m.onBlackBox, m.queries];
        rec.status = 'complete';
        save();
        res.defense.unet.dispose();
      } finally {
        unet.dispose();
      }
    };

    if (r.status !== 'complete') await faithfulStage();
    if (b.refit && refitHash) await refitStage(b.refit, refitHash);
    return r;
  } finally {
    surrogate.dispose();
    bd.model.dispose();
  }
}

/** A float32 file of `n` values (the black box's answers). */
function readF32(file: string, n: number): Float32Array {
  const v = readFloat32(file);
  if (v.length !== n) throw new Error(`${file}: ${v.length} values, ${n} expected: delete it to query again`);
  return v;
}

/** BA and ASR of the defense deployed in front of the black box (each image one query). */
async function deployedMetric(d: BlackBoxDefense, clean: ImageDataset, poisoned: ImageDataset): Promise<Metric> {
  const t0 = performance.now();
  const acc = async (ds: ImageDataset) => {
    if (!ds.n) return NaN;
    return hits(await d.predict(ds), ds.labels) / ds.n;
  };
  return { BA: await acc(clean), ASR: await acc(poisoned), seconds: (performance.now() - t0) / 1000 };
}

const cell = (m?: Metric) => (m ? `${(100 * m.BA).toFixed(2)}/${(100 * m.ASR).toFixed(2)}` : '—');

/** The Table 11-shaped section of results.md from the attacks' blackbox.json files. */
export function renderBlackBoxSection(rs: BlackBoxResult[]): string {
  if (!rs.length) return '';
  const L = ['## Black-box REFINE (Table 11)', ''];
  L.push("The backdoored model is a ResNet-50 seen only through its probabilities; a ResNet-18 surrogate is distilled from it on REFINE's unlabeled images (MSE on the probability vectors), REFINE is trained against the surrogate and deployed in front of the black box (docs/method.md). The refit column is a deviation from the paper (after REFINE, the black box is queried on T(x) of the unlabeled images, the surrogate distilled further on x and T(x), and REFINE's last epochs trained again; docs/method.md, \"The refit\"); the column before it is the paper's setting. BA/ASR in %.", '');
  L.push('| Attack | No Defense, black box | No Defense, surrogate | REFINE on the surrogate | REFINE on the black box | REFINE + refit on the black box | queries to train (distillation + refit) | queries to evaluate | augmentation guard (checked on the surrogate) |', '|---|---|---|---|---|---|---|---|---|');
  const done = (r: BlackBoxResult) => (r.refit?.status === 'complete' ? r.refit : undefined);
  for (const r of rs) {
    const f = done(r);
    const train = `${r.queries.distill ?? '?'}${f ? ` + ${f.queries.transformed ?? '?'}` : ''}`;
    const evaluate = `${r.queries.evaluation ?? '?'}${f ? ` + ${f.queries.evaluation ?? '?'}` : ''}`;
    L.push(`| ${displayName(r.attack)} | ${cell(r.noDefenseBlackBox)} | ${cell(r.noDefenseSurrogate)} | ${cell(r.refineSurrogate)} | ${cell(r.refineBlackBox)} | ${cell(f?.refineBlackBox)} | ${train} | ${evaluate} | ${r.guard ? describeGuard(r.guard.decision) : 'off'} |`);
  }
  const refits = rs.filter(done);
  if (refits.length) {
    L.push('', 'The refit: the surrogate\'s argmax agreement with the black box on T(x) of the unlabeled images before → after it, and REFINE + refit against the refitted surrogate (BA/ASR):', '');
    for (const r of refits) {
      const f = r.refit!;
      const pct = (v?: number) => (v === undefined ? '?' : `${(100 * v).toFixed(1)}%`);
      L.push(`- ${displayName(r.attack)}: ${pct(f.agreementBefore)} → ${pct(f.agreementAfter)}; on the surrogate ${cell(f.refineSurrogate)} (${f.config.distillEpochs} distillation epochs at lr ${f.config.distillLr}, REFINE's last ${f.config.refineEpochs} epochs${f.guard ? `; augmentation guard with the refitted surrogate: ${describeGuard(f.guard.decision)}` : ''})`);
    }
  }
  L.push('', 'Paper (CIFAR-10, ResNet-50 black box, ResNet-18 surrogate): BadNets 90.60/100, 91.20/1.24, 88.21/0.92, 88.17/0.36; Blended 91.08/96.94, 90.69/2.23, 88.34/0.62, 87.75/0.18; WaNet 91.50/99.93, 90.92/99.84, 88.77/3.37, 87.44/0.04.', '');
  return L.join('\n');
}

export function readBlackBoxResults(outRoot: string, names: string[]): BlackBoxResult[] {
  return names.map((n) => readJson<BlackBoxResult>(join(blackboxDir(outRoot, n), 'blackbox.json'))).filter((r): r is BlackBoxResult => r?.status === 'complete');
}

