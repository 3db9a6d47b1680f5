/**
 * npm run augmentation-check -- MODEL.safetensors [MODEL...] [--dataset fashion-mnist]
 *   [--preset quick|paper] [--images N] [--width 0.25] [--depth 18|50] [--target N]
 *
 * Does REFINE's training augmentation fire a model's backdoor, and do the augmentation guard's
 * probes (a brightness/contrast jitter, a rotation)? (src/refine/diagnostics.ts; the same checks
 * `npm run reproduce` records per attack.) Classifies N of REFINE's unlabeled training images (the reproduce
 * pipeline's seeded subset, in the same order) with and without each augmentation and prints how
 * many pseudo-labels change, where the changes go and whether the guard counts it as firing. Label-free; with
 * --target (or a result.json beside the model naming its target) it also prints the target
 * class's share before and after.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { autotune, describeTuning, init, shutdown } from '../src/index.js';
import { loadDataset } from '../src/data/registry.js';
import { loadCheckpoint } from '../src/nn/checkpoint.js';
import { augmentationCheck, augmentationFiresBackdoor } from '../src/refine/diagnostics.js';
import { GUARD_PROBE_NAMES, GUARD_PROBES, refinePreset } from '../src/pipeline/refine-presets.js';
import { seededSubset } from '../src/data/dataset.js';
import { newResNet } from '../src/pipeline/backdoor.js';
import { classifierPreset } from '../src/train/presets.js';
import { MODEL_CHECK_OPTIONS, modelFiles, num, parseArgsOrExit } from '../src/util/cli.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const USAGE =
  'usage: npm run augmentation-check -- MODEL.safetensors [MODEL...] [--dataset fashion-mnist] [--data-dir data] [--preset quick|paper] [--images N] [--width X] [--depth 18|50] [--target N] [--seed N] [-h|--help]';
const { values, positionals } = parseArgsOrExit('augmentation-check', USAGE, {
  allowPositionals: true,
  options: {
    ...MODEL_CHECK_OPTIONS,
    images: { type: 'string', default: '1000' },
    depth: { type: 'string', default: '18' },
    target: { type: 'string' },
    seed: { type: 'string', default: '666' },
    help: { type: 'boolean', short: 'h' },
  },
});
try {
  modelFiles(positionals);
  const images = num('images', values.images, 'int')!;
  const seed = num('seed', values.seed, 'nonneg-int')!;
  const target = num('target', values.target, 'nonneg-int');
  // the black box of `npm run reproduce -- --blackbox` is a ResNet-50
  if (values.depth !== '18' && values.depth !== '50') throw new Error(`--depth must be 18 or 50, got '${values.depth}'`);
  const depth = Number(values.depth) as 18 | 50;
  const { split, normalization } = loadDataset(values.dataset!, values['data-dir']);
  const size = { h: split.train.h, w: split.train.w, c: split.train.c };
  const refine = refinePreset(values.preset!, size, seed);
  const width = num('width', values.width, 'pos') ?? classifierPreset(values.preset!).width;
  // the reproduce pipeline's REFINE data and check seed (seed + 17, seed + 41)
  const data = seededSubset(split.train, refine.trainSubset, seed + 17);
  const rtm = await init();
  console.error(`adapter: ${rtm.adapterName}`);
  console.error(describeTuning(await autotune()));
  console.log(`REFINE (${values.preset}) augmentation ${JSON.stringify(refine.augment)} and the guard's probes ${GUARD_PROBE_NAMES.map((p) => JSON.stringify(GUARD_PROBES[p].augment)).join(', ')} on ${Math.min(images, data.n)} unlabeled ${values.dataset} training images`);
  for (const file of positionals) {
    const model = newResNet(split.train, { width, seed, depth });
    loadCheckpoint(model, file);
    const side = join(dirname(file), 'result.json');
    const t = target ?? (existsSync(side) ? (JSON.parse(readFileSync(side, 'utf8')) as { target?: number }).target : undefined);
    const pc = (v: number) => `${(100 * v).toFixed(1)}%`;
    // the reproduce pipeline's check seeds (seed + 41, then each probe's offset)
    const checks = [['augmentation', refine.augment, seed + 41] as const, ...GUARD_PROBE_NAMES.map((p) => [`${p} probe`, GUARD_PROBES[p].augment, seed + GUARD_PROBES[p].seedOffset] as const)];
    for (const [name, spec, s] of checks) {
      const a = await augmentationCheck(model, data, spec, normalization, images, s);
      console.log(
        `${file} [${name}]: ${pc(a.changed)} of the pseudo-labels change; ${pc(a.topChangedToShare)} of the changes go to class ${a.topChangedTo}; ` +
          `largest share rise ${(100 * a.maxShareRise).toFixed(1)} points (class ${a.maxShareRiseClass})` +
          (t !== undefined ? `; target ${t}: ${pc(a.plainShares[t] ?? 0)} → ${pc(a.augmentedShares[t] ?? 0)}` : '') +
          `; fires: ${augmentationFiresBackdoor(a) ? 'yes' : 'no'}`,
      );
    }
    model.dispose();
  }
  shutdown();
} catch (e) {
  console.error(`augmentation-check: ${(e as Error).message}\n${USAGE}`);
  process.exitCode = 1;
}
