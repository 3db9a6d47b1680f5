/**
 * npm run blackbox-refit-probe -- [--attack badnets] [--out results/fashion-mnist-quick-budget]
 *   [--from-epoch 8] [--distill-epochs 4] [--distill-lr 0.02] [--work DIR] [--eval N]
 *
 * A development probe on a finished black-box run of `npm run reproduce -- --blackbox`
 * (docs/reproduction.md, "Black-box REFINE"): does black-box REFINE lose its accuracy because the
 * surrogate, distilled on natural images only, reads the UNet's transformed images T(x) otherwise
 * than the black box? It measures the defense in front of the black box and of the surrogate
 * (and their agreement on T(x)), then queries the black box once on T(x) of every unlabeled
 * image, distils the surrogate further on x and T(x), measures again with the same UNet, and
 * trains REFINE's last epochs (from --from-epoch, the same one-cycle schedule) again against the
 * refitted surrogate. With --control it skips the query and the refit and trains the same epochs
 * again against the surrogate as it is: whether the extra training alone closes the gap. Writes
 * nothing into the run folder: its own state goes to --work.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { init, shutdown } from '../src/index.js';
import { loadDataset } from '../src/data/registry.js';
import { seededSubset, type ImageDataset } from '../src/data/dataset.js';
import { loadCheckpoint } from '../src/nn/checkpoint.js';
import { UNet } from '../src/nn/unet.js';
import type { Module } from '../src/nn/module.js';
import { createAttack, newResNet } from '../src/pipeline/backdoor.js';
import { refinePreset } from '../src/pipeline/refine-presets.js';
import { blackboxDir } from '../src/pipeline/run-folders.js';
import type { BlackBoxResult } from '../src/pipeline/blackbox-experiment.js';
import { BlackBoxDefense } from '../src/refine/blackbox-defense.js';
import { trainRefine } from '../src/refine/train.js';
import { argmaxRows, moduleBlackBox, type BlackBox } from '../src/train/blackbox.js';
import { distillSurrogate } from '../src/train/distill.js';
import { classifierPreset } from '../src/train/presets.js';
import { folderStore } from '../src/train/resume.js';
import { num, parseArgsOrExit } from '../src/util/cli.js';
import { readFloat32, writeFileAtomic } from '../src/util/files.js';
import { Progress } from '../src/util/progress.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const USAGE = `usage: npm run blackbox-refit-probe -- [options]
  On a finished black-box run (npm run reproduce -- --blackbox, Fashion-MNIST, quick classifier
  preset, budget REFINE preset): query the black box on T(x), distil the surrogate further on x
  and T(x), train REFINE's last epochs again against it; the defense's BA / ASR in front of the
  black box and of the surrogate before and after.
  --attack NAME         the attack whose black-box run is probed (default: badnets)
  --out DIR             the reproduce results folder holding it (default: results/fashion-mnist-quick-budget)
  --from-epoch N        REFINE resumes after this epoch of its schedule (default: 8)
  --distill-epochs N    further distillation epochs over x and T(x) (default: 4)
  --distill-lr X        their constant lr (default: 0.02)
  --control             no query on T(x) and no refit: the same REFINE epochs again against the
                        surrogate as it is (does the extra training alone recover the accuracy?)
  --eval N              test images measured (default: 2000)
  --work DIR            this probe's own state (default: /tmp/blackbox-refit-probe/<attack>[-control])
  --data-dir DIR        where datasets live (default: data)
  -h, --help`;
const { values } = parseArgsOrExit('blackbox-refit-probe', USAGE, {
  options: {
    attack: { type: 'string', default: 'badnets' },
    out: { type: 'string', default: 'results/fashion-mnist-quick-budget' },
    'from-epoch': { type: 'string', default: '8' },
    'distill-epochs': { type: 'string', default: '4' },
    'distill-lr': { type: 'string', default: '0.02' },
    eval: { type: 'string', default: '2000' },
    work: { type: 'string' },
    control: { type: 'boolean', default: false },
    'data-dir': { type: 'string', default: 'data' },
    help: { type: 'boolean', short: 'h' },
  },
});

let code = 0;
try {
  const attack = values.attack!;
  const fromEpoch = num('from-epoch', values['from-epoch'], 'nonneg-int')!;
  const distillEpochs = num('distill-epochs', values['distill-epochs'], 'int')!;
  const distillLr = num('distill-lr', values['distill-lr'], 'pos')!;
  const nEval = num('eval', values.eval, 'int')!;
  const dir = blackboxDir(values.out!, attack);
  const run = JSON.parse(readFileSync(join(dir, 'blackbox.json'), 'utf8')) as BlackBoxResult;
  if (run.status !== 'complete' || !run.blackBoxDir) throw new Error(`${dir}: not a finished black-box run`);
  const bbModel = existsSync(join(run.blackBoxDir, 'model.safetensors')) ? join(run.blackBoxDir, 'model.safetensors') : join('results/backdoored', run.blackBoxDir.split('/').pop()!, 'model.safetensors');
  const control = values.control!;
  const work = values.work ?? join('/tmp/blackbox-refit-probe', control ? `${attack}-control` : attack);
  mkdirSync(work, { recursive: true });
  await init();
  const { split, normalization } = loadDataset('fashion-mnist', values['data-dir']);
  const preset = classifierPreset('quick');
  const seed = preset.seed;
  const k = split.test.classes.length;
  const test = seededSubset(split.test, nEval, 1, 'test');
  const asr = createAttack({ attack, dataset: 'fashion-mnist', presetName: 'quick', preset, target: 0 }, split.train).poisonTest(test);
  // REFINE's unlabeled images, as the black-box experiment picks them
  const unlabeled = seededSubset(split.train, 10000, seed + 17, 'unlabeled');
  const bb = newResNet(split.train, { ...preset, depth: 50 });
  loadCheckpoint(bb, bbModel);
  bb.eval();
  const bbF = moduleBlackBox(bb, k, normalization);
  const sur = newResNet(split.train, { ...preset, depth: 18 });
  loadCheckpoint(sur, join(dir, 'surrogate.safetensors'));
  sur.eval();
  const surF = moduleBlackBox(sur, k, normalization);
  const unet = new UNet({ firstChannels: 16, channels: 1 });
  loadCheckpoint(unet, join(dir, 'refine', 'unet-last.safetensors'));
  const state = JSON.parse(readFileSync(join(dir, 'refine', 'refine-state.json'), 'utf8')) as { perm: number[]; history: unknown[] };
  const perm = Int32Array.from(state.perm);
  const teacher = readFloat32(join(dir, 'teacher.f32'));
  const query = (f: BlackBox, ds: ImageDataset) => f.query({ images: ds.images, n: ds.n, h: ds.h, w: ds.w, c: ds.c });
  const agreement = (a: Float32Array, b: Float32Array) => {
    const [x, y] = [argmaxRows(a, k), argmaxRows(b, k)];
    return `${((100 * x.filter((v, i) => v === y[i]).length) / x.length).toFixed(2)}%`;
  };
  const pct = (v: number, n: number) => ((100 * v) / n).toFixed(2);
  // T(x) as the 8-bit images the black box receives: the deployed defense's own path
  const transformed = (u: UNet, ds: ImageDataset) => new BlackBoxDefense(u, perm, bbF, normalization).transformed(ds);
  const measure = async (label: string, u: UNet, s: Module) => {
    const sF = moduleBlackBox(s, k, normalization);
    for (const [name, ds] of [['clean BA', test], ['ASR', asr]] as const) {
      const onBb = await new BlackBoxDefense(u, perm, bbF, normalization).predict(ds);
      const onSur = await new BlackBoxDefense(u, perm, sF, normalization).predict(ds);
      const hit = (p: Int32Array) => p.filter((v, i) => v === ds.labels[i]).length;
      console.log(`${label}, ${name} (${ds.n} images): in front of the black box ${pct(hit(onBb), ds.n)}, of the surrogate ${pct(hit(onSur), ds.n)}; they agree on ${pct(onBb.filter((v, i) => v === onSur[i]).length, ds.n)}%`);
    }
  };

  console.log(`black box ${bbModel}, run ${dir}`);
  await measure('as committed', unet, sur);
  if (!control) {
    const tData = await transformed(unet, unlabeled);
    const tFile = join(work, 'teacher-T.f32');
    let teacherT: Float32Array;
    if (existsSync(tFile)) teacherT = readFloat32(tFile);
    else {
      teacherT = await query(bbF, tData);
      writeFileAtomic(tFile, new Uint8Array(teacherT.buffer, teacherT.byteOffset, teacherT.byteLength));
    }
    console.log(`queries on T(x): ${tData.n}. Surrogate vs black box (argmax): on T(unlabeled) ${agreement(await query(surF, tData), teacherT)}, on the unlabeled images ${agreement(await query(surF, unlabeled), teacher)}`);
    const both: ImageDataset = { ...unlabeled, name: 'x and T(x)', n: 2 * unlabeled.n, images: concat(unlabeled.images, tData.images), labels: concat(unlabeled.labels, unlabeled.labels) };
    const cfg = { ...preset, epochs: distillEpochs, lr: distillLr, milestones: [], augment: {} };
    sur.train();
    await distillSurrogate(sur, both, Float32Array.from([...teacher, ...teacherT]), cfg, { normalization, store: folderStore(join(work, 'distill'), { model: 'surrogate.safetensors', optimizer: 'surrogate-optimizer.safetensors', state: 'distill-state.json' }), progress: (l, t) => new Progress(l, t) });
    sur.eval();
    console.log(`refitted surrogate vs black box (argmax): on T(unlabeled) ${agreement(await query(surF, tData), teacherT)}, on the unlabeled images ${agreement(await query(surF, unlabeled), teacher)}`);
    await measure('same UNet, refitted surrogate', unet, sur);
  }
  // REFINE's epochs after --from-epoch again, against the refitted surrogate (with --control the surrogate as it is), from the committed UNet
  const rdir = join(work, 'refine');
  if (!existsSync(join(rdir, 'refine-state.json'))) {
    mkdirSync(rdir, { recursive: true });
    copyFileSync(join(dir, 'refine', 'unet-last.safetensors'), join(rdir, 'unet-last.safetensors'));
    writeFileAtomic(join(rdir, 'refine-state.json'), JSON.stringify({ ...state, epochsDone: fromEpoch, history: state.history.slice(0, fromEpoch) }));
  }
  const rcfg = { ...refinePreset('budget', { h: split.train.h, w: split.train.w, c: split.train.c }, seed), renormalize: true };
  const res = await trainRefine(sur, unlabeled, rcfg, { normalization, numClasses: k, store: folderStore(rdir, { model: 'unet-last.safetensors', optimizer: 'unet-last-optimizer.safetensors', state: 'refine-state.json' }), progress: (l, t) => new Progress(l, t) });
  await measure(`REFINE epochs ${fromEpoch + 1}-${rcfg.epochs} again against ${control ? 'the surrogate as it is (control)' : 'it'}`, res.defended.unet, sur);
  shutdown();
} catch (e) {
  console.error(`blackbox-refit-probe: ${(e as Error).message}`);
  code = 1;
}
process.exitCode = code;

function concat<T extends Uint8Array>(a: T, b: T): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
