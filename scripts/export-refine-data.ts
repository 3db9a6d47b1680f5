/**
 * npm run export-refine-data -- --attack NAME --out DIR [--dataset fashion-mnist] [--preset quick] [--refine-subset N]
 *
 * Writes the exact images of one attack's REFINE experiment (the seeded unlabeled REFINE subset,
 * the clean test set and the triggered non-target test set of the reproduce pipeline) as raw
 * uint8 NHWC files plus meta.json, for the PyTorch peer (bench/peers/torch/refine.py) that checks
 * REFINE recipes by hand. A development tool: nothing in the project reads these files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgsOrExit } from '../src/util/cli.js';
import { loadDataset } from '../src/data/registry.js';
import { classifierPreset } from '../src/train/presets.js';
import { createAttack, defaultBackdoorDir, trainSubsetOf } from '../src/pipeline/backdoor.js';
import { seededSubset } from '../src/data/dataset.js';
import { refinePreset } from '../src/pipeline/refine-presets.js';

const USAGE = 'usage: npm run export-refine-data -- --attack NAME --out DIR [--dataset fashion-mnist] [--preset quick] [--refine-subset N] [--data-dir data] [-h|--help]';
const { values: v } = parseArgsOrExit('export-refine-data', USAGE, {
  options: {
    attack: { type: 'string' },
    out: { type: 'string' },
    dataset: { type: 'string', default: 'fashion-mnist' },
    preset: { type: 'string', default: 'quick' },
    'refine-subset': { type: 'string' },
    'data-dir': { type: 'string', default: 'data' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (!v.attack || !v.out) {
  console.error(`export-refine-data: --attack and --out are required\n${USAGE}`);
  process.exit(1);
}
const { split, normalization } = loadDataset(v.dataset!, v['data-dir']);
const classifier = classifierPreset(v.preset!);
const seed = classifier.seed;
const size = { h: split.train.h, w: split.train.w, c: split.train.c };
const n = v['refine-subset'] ? Number(v['refine-subset']) : refinePreset('quick', size, seed).trainSubset;
const refineData = seededSubset(split.train, n, seed + 17);
const spec = { attack: v.attack, dataset: v.dataset!, presetName: v.preset!, preset: classifier, target: 0 };
const attack = createAttack(spec, trainSubsetOf(split.train, classifier));
const asr = attack.poisonTest(split.test);
mkdirSync(v.out, { recursive: true });
writeFileSync(join(v.out, 'refine.u8'), refineData.images);
writeFileSync(join(v.out, 'refine_labels.u8'), refineData.labels);
writeFileSync(join(v.out, 'test.u8'), split.test.images);
writeFileSync(join(v.out, 'test_labels.u8'), split.test.labels);
writeFileSync(join(v.out, 'asr.u8'), asr.images);
const meta = { attack: v.attack, h: size.h, w: size.w, c: size.c, refine: refineData.n, test: split.test.n, asr: asr.n, target: 0, normalization, model: join(defaultBackdoorDir(spec, 'results/backdoored'), 'model.safetensors') };
writeFileSync(join(v.out, 'meta.json'), JSON.stringify(meta, null, 1));
console.log(JSON.stringify(meta));
