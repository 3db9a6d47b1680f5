/**
 * npm run lc-check -- RUN_DIR [RUN_DIR...] [--benign MODEL.safetensors] [--images N]
 *
 * Where does a Label-Consistent model's backdoor stand? LC (docs/attacks.md, Label-Consistent) replaces 25% of the
 * target-class training images by PGD versions that the clean model misclassifies, adds the
 * BadNets trigger and keeps their (target) labels: the trigger is the easy way to fit images whose
 * content has been made hard. Each RUN_DIR is an LC run folder (model.safetensors, attack.json,
 * and the PGD images lc-adversarial.bin/.json, which `npm run attack` keeps there). This prints:
 * - with --benign (the clean model PGD attacked): its accuracy on the chosen target-class images
 *   before and after PGD (how hard PGD made them);
 * - per run: how its model classifies those images (clean, PGD, PGD + trigger, PGD + the mirrored
 *   trigger that the random flip puts on half of them in training) and the ASR of the trigger
 *   and of the mirrored trigger on the first N (default 1,000) non-target test images, and the
 *   ASR by the true class of the test image, and the clean test accuracy by class.
 * A model that fits the PGD + trigger images but not the PGD images alone relies on the trigger.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { autotune, describeTuning, init, shutdown } from '../src/index.js';
import { loadDataset } from '../src/data/registry.js';
import { subset, type ImageDataset } from '../src/data/dataset.js';
import { flipH, type Image } from '../src/data/augment.js';
import { newResNet } from '../src/pipeline/backdoor.js';
import { loadCheckpoint } from '../src/nn/checkpoint.js';
import { accuracy, accuracyByClass, formatByClass, predict } from '../src/train/evaluate.js';
import { applyBadnets } from '../src/attacks/badnets.js';
import { LabelConsistent } from '../src/attacks/label-consistent.js';
import { poisonCopy, poisonTestSet, range } from '../src/attacks/common.js';
import { classifierPreset } from '../src/train/presets.js';
import { MODEL_CHECK_OPTIONS, num, parseArgsOrExit } from '../src/util/cli.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const USAGE =
  'usage: npm run lc-check -- RUN_DIR [RUN_DIR...] [--benign MODEL.safetensors] [--dataset fashion-mnist] [--data-dir data] [--preset quick|paper] [--width X] [--images N] [-h|--help]';
const { values, positionals } = parseArgsOrExit('lc-check', USAGE, {
  allowPositionals: true,
  options: {
    ...MODEL_CHECK_OPTIONS,
    benign: { type: 'string' },
    images: { type: 'string', default: '1000' },
    help: { type: 'boolean', short: 'h' },
  },
});

interface LcRun {
  dir: string;
  attack: LabelConsistent;
  chosen: Int32Array;
  adv: Uint8Array;
}

/** An LC run folder: its attack (from attack.json) and PGD images (checked against the attack's choice). */
function readRun(dir: string, train: ImageDataset): LcRun {
  for (const f of ['model.safetensors', 'attack.json', 'lc-adversarial.bin']) {
    if (!existsSync(join(dir, f))) throw new Error(`${dir}: no ${f} (an LC run folder of npm run attack holds model.safetensors, attack.json and lc-adversarial.bin)`);
  }
  const a = JSON.parse(readFileSync(join(dir, 'attack.json'), 'utf8')) as Record<string, unknown>;
  if (a.attack !== 'lc') throw new Error(`${dir}: attack.json is of attack '${String(a.attack)}', not lc`);
  const attack = new LabelConsistent({ h: train.h, w: train.w, c: train.c }, { target: a.target, seed: a.seed, rate: a.rate });
  const chosen = attack.chooseIndices(train);
  const adv = new Uint8Array(readFileSync(join(dir, 'lc-adversarial.bin')));
  if (adv.length !== chosen.length * train.h * train.w * train.c) throw new Error(`${dir}: lc-adversarial.bin holds ${adv.length} bytes, not ${chosen.length} images of ${train.h}x${train.w}x${train.c}`);
  return { dir, attack, chosen, adv };
}

try {
  if (positionals.length === 0) throw new Error('give at least one LC run folder');
  const images = num('images', values.images, 'int')!;
  const width = num('width', values.width, 'pos') ?? classifierPreset(values.preset!).width;
  const { split, normalization } = loadDataset(values.dataset!, values['data-dir']);
  const { train, test } = split;
  if (values.benign && !existsSync(values.benign)) throw new Error(`--benign ${values.benign}: no such file`);
  const runs = positionals.map((d) => readRun(d, train));

  // the chosen images (labelled as the target, so accuracy = share classified as the target)
  const sets = (r: LcRun): [string, ImageDataset][] => {
    const { attack, chosen, adv } = r;
    const t = attack.target;
    const clean = subset(train, chosen, `${train.name}[lc]`);
    const pgd: ImageDataset = { ...clean, name: `${train.name}[lc-pgd]`, images: adv };
    const trig = (img: Image) => applyBadnets(img, attack.trigger);
    const mirrored = (img: Image) => flipH(trig(flipH(img)));
    return [
      [`clean target-class images`, clean],
      [`their PGD versions`, pgd],
      [`PGD + trigger (as trained, unflipped)`, poisonCopy(pgd, `${pgd.name}+trigger`, range(pgd.n), trig, t)],
      [`PGD + mirrored trigger (as trained, flipped)`, poisonCopy(pgd, `${pgd.name}+mirrored`, range(pgd.n), mirrored, t)],
      [`ASR, trigger (${Math.min(images, test.n)} first non-target test images)`, poisonTestSet(attack, test, { limit: images })],
      [`ASR, mirrored trigger`, poisonTestSet(attack, test, { limit: images, trigger: mirrored, name: `${test.name}+mirrored` })],
    ];
  };

  const rtm = await init();
  console.error(`adapter: ${rtm.adapterName}`);
  console.error(describeTuning(await autotune()));
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  const score = async (file: string, list: [string, ImageDataset][]) => {
    // the weights come from the file: the init seed does not matter
    const model = newResNet(test, { width, seed: 0 });
    loadCheckpoint(model, file);
    for (const [name, ds] of list) console.log(`  ${name}: ${pct(await accuracy(model, ds, { normalization }))} classified as the target (${ds.n} images)`);
    return model;
  };
  // ASR by the true class of the triggered test image (the first N/(classes-1) of each)
  const perClass = async (model: Awaited<ReturnType<typeof score>>, attack: LabelConsistent) => {
    const per = Math.ceil(images / (test.classes.length - 1));
    const parts: string[] = [];
    for (let k = 0; k < test.classes.length; k++) {
      if (k === attack.target) continue;
      const idx: number[] = [];
      for (let i = 0; i < test.n && idx.length < per; i++) if (test.labels[i] === k) idx.push(i);
      const ds = poisonTestSet(attack, subset(test, idx));
      parts.push(`${test.classes[k]} ${pct(await accuracy(model, ds, { normalization }))}`);
    }
    console.log(`  ASR by true class (${per} test images each): ${parts.join(', ')}`);
  };
  if (values.benign) {
    console.log(`${values.benign} (clean model, the one PGD attacked in ${runs[0]!.dir}):`);
    (await score(values.benign, sets(runs[0]!).slice(0, 2))).dispose();
  }
  for (const r of runs) {
    console.log(`${join(r.dir, 'model.safetensors')}:`);
    const model = await score(join(r.dir, 'model.safetensors'), sets(r));
    await perClass(model, r.attack);
    // the clean test set by class: poisoning (every) target-class image can cost that class its accuracy
    const ba = accuracyByClass(await predict(model, test, { normalization }), test);
    console.log(`  BA by true class (clean test set, ${test.n} images): ${formatByClass(ba, 2)}`);
    model.dispose();
  }
  shutdown();
} catch (e) {
  console.error(`lc-check: ${(e as Error).message}\n${USAGE}`);
  process.exitCode = 1;
}
