/**
 * npm run attack -- --attack wanet --dataset fashion-mnist --preset quick [options]
 *
 * Trains a backdoored classifier (docs/attacks.md): poisons the training set with the attack, trains
 * ResNet-18 with the preset's recipe (checkpointing every epoch: a rerun resumes), and reports
 * BA (clean test accuracy) and ASR (share of triggered non-target test images classified as the
 * target). Label-Consistent first trains (or reuses, cached under runs/benign-...) a benign model
 * for its PGD step. Writes to --out (default runs/attack-<attack>-<dataset>-<preset>-s<seed>):
 * model.safetensors, attack.json (attack parameters, seeds, triggers, poisoned indices),
 * examples.png (clean vs poisoned examples), result.json (BA, ASR, ASR by true class, wall time, config).
 */
import { ATTACK_OPTIONS, ATTACK_USAGE, attackFlags, FOLDER_OPTIONS, FOLDER_USAGE, folderFlags, num, parseArgsOrExit } from '../src/util/cli.js';
import { CLASSIFIER_OPTIONS, CLASSIFIER_USAGE, classifierFlags } from '../src/train/classifier-flags.js';
import { autotune, describeTuning, init, shutdown } from '../src/index.js';
import { attacks } from '../src/attacks/index.js';
import { loadDataset } from '../src/data/registry.js';
import { classifierPreset, withClassifierOverrides } from '../src/train/presets.js';
import { trainBackdoored, trainSubsetOf, type BackdoorSpec } from '../src/pipeline/backdoor.js';
import { formatByClass } from '../src/train/evaluate.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const USAGE = `usage: npm run attack -- --attack <${attacks.names().join('|')}> [--dataset fashion-mnist|cifar10|folder:DIR]
  [--preset quick|paper] [--target N] [--seed N] [--out DIR] [--data-dir DIR]
  [--lc-init benign|scratch] [--benign-dir DIR]
attack parameters (the official code's unless given):
${ATTACK_USAGE}
classifier recipe (the preset's unless given):
${CLASSIFIER_USAGE}
image folders:
${FOLDER_USAGE}`;

const OPTIONS = {
    attack: { type: 'string' },
    dataset: { type: 'string', default: 'fashion-mnist' },
    preset: { type: 'string', default: 'quick' },
    target: { type: 'string', default: '0' },
    out: { type: 'string' },
    'data-dir': { type: 'string', default: 'data' },
    ...CLASSIFIER_OPTIONS,
    ...FOLDER_OPTIONS,
    ...ATTACK_OPTIONS,
    'lc-init': { type: 'string', default: 'benign' },
    'benign-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
} as const;
const { values } = parseArgsOrExit('attack', USAGE, { options: OPTIONS });


const t0 = performance.now();
try {
  if (!values.attack) throw new Error(`--attack is required\n${USAGE}`);
  const factory = attacks.get(values.attack);
  const p = withClassifierOverrides(classifierPreset(values.preset!), classifierFlags(values));
  const target = num('target', values.target, 'nonneg-int')!;
  if (!['benign', 'scratch'].includes(values['lc-init']!)) throw new Error(`--lc-init must be benign or scratch, got '${values['lc-init']}'`);

  // attack options from the flags (each only where the attack has it)
  const opts = attackFlags(factory.name, values);

  const { split, normalization } = loadDataset(values.dataset!, values['data-dir'], folderFlags(values));
  const train = trainSubsetOf(split.train, p);
  const test = split.test;
  const spec: BackdoorSpec = {
    attack: factory.name,
    dataset: values.dataset!,
    presetName: values.preset!,
    preset: p,
    target,
    attackOptions: opts,
    lcInit: values['lc-init'] as 'benign' | 'scratch',
    benignDir: values['benign-dir'],
    out: values.out,
  };
  const rtm = await init();
  console.error(`adapter: ${rtm.adapterName}`);
  console.error(describeTuning(await autotune()));
  const run = await trainBackdoored(spec, { train, test, normalization }, { adapter: rtm.adapterName });
  const { BA: ba, ASR: asr } = run.summary;
  const wall = (performance.now() - t0) / 1000;
  console.log(`${factory.name} on ${values.dataset}: BA ${(100 * ba).toFixed(2)}% | ASR ${(100 * asr).toFixed(2)}% | wall ${(wall / 60).toFixed(1)} min${run.cached ? ' (reused)' : ''} | ${run.out}`);
  if (run.summary.baByClass) console.log(`BA by true class: ${formatByClass(run.summary.baByClass)}`);
  if (run.summary.asrByClass) console.log(`ASR by true class: ${formatByClass(run.summary.asrByClass)}`);
  run.model.dispose();
  shutdown();
} catch (e) {
  console.error(`attack: ${(e as Error).message}`);
  process.exit(1);
}

