/**
 * npm run make-defend-example -- [--attack badnets] [--out data/defend-example]
 *
 * Writes the inputs of the committed `npm run defend` example the way a defender would have
 * them: the backdoored classifier re-saved with torchvision's names (`downsample`, `fc`), and
 * image folders that mix PNG and JPEG — unlabeled training images (the reproduce pipeline's
 * seeded REFINE subset), clean test images and triggered non-target test images, each in
 * <class>/ sub-folders. Deterministic; nothing here is read by the library.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { loadDataset } from '../src/data/registry.js';
import type { ImageDataset } from '../src/data/dataset.js';
import { classifierPreset } from '../src/train/presets.js';
import { createAttack, defaultBackdoorDir, trainSubsetOf } from '../src/pipeline/backdoor.js';
import { seededSubset } from '../src/data/dataset.js';
import { refinePreset } from '../src/pipeline/refine-presets.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../src/nn/safetensors.js';
import { parseArgsOrExit } from '../src/util/cli.js';

const USAGE = `usage: npm run make-defend-example -- [--attack badnets] [--out data/defend-example]
  [--test-images 10000] [--data-dir data]`;
const { values } = parseArgsOrExit('make-defend-example', USAGE, {
  options: { attack: { type: 'string', default: 'badnets' }, out: { type: 'string', default: 'data/defend-example' }, 'test-images': { type: 'string', default: '10000' }, 'data-dir': { type: 'string', default: 'data' }, help: { type: 'boolean', short: 'h' } },
});

/** A class name usable as a folder name ('T-shirt/top' → 'T-shirt_top'). */
const folderName = (c: string) => c.replace(/[/\\:*?"<>|]/g, '_');

/** Writes ds as <out>/<class>/<i>.png|jpg (every other image a quality-95 JPEG). */
function writeFolder(ds: ImageDataset, out: string): void {
  const px = ds.h * ds.w * ds.c;
  // a folder for each class that has images (the triggered images all sit under the target)
  for (const y of new Set(ds.labels)) mkdirSync(join(out, folderName(ds.classes[y]!)), { recursive: true });
  for (let i = 0; i < ds.n; i++) {
    const rgba = Buffer.alloc(ds.h * ds.w * 4);
    for (let p = 0; p < ds.h * ds.w; p++) {
      const v = ds.images.subarray(i * px + p * ds.c, i * px + (p + 1) * ds.c);
      rgba.set(ds.c === 1 ? [v[0]!, v[0]!, v[0]!, 255] : [v[0]!, v[1]!, v[2]!, 255], 4 * p);
    }
    const dir = join(out, folderName(ds.classes[ds.labels[i]!]!));
    const name = String(i).padStart(5, '0');
    if (i % 2) writeFileSync(join(dir, `${name}.jpg`), jpeg.encode({ data: rgba, width: ds.w, height: ds.h }, 95).data);
    else {
      const png = new PNG({ width: ds.w, height: ds.h, colorType: ds.c === 1 ? 0 : 2, inputColorType: 6 });
      rgba.copy(png.data);
      writeFileSync(join(dir, `${name}.png`), PNG.sync.write(png, { colorType: ds.c === 1 ? 0 : 2, inputColorType: 6 }));
    }
  }
}

const dataset = 'fashion-mnist';
const { split } = loadDataset(dataset, values['data-dir']);
const classifier = classifierPreset('quick');
const seed = classifier.seed;
const spec = { attack: values.attack!, dataset, presetName: 'quick', preset: classifier, target: 0 };
const attack = createAttack(spec, trainSubsetOf(split.train, classifier));
const unlabeled = seededSubset(split.train, refinePreset('budget', { h: split.train.h, w: split.train.w, c: split.train.c }, seed).trainSubset, seed + 17);
const n = Number(values['test-images']);
const test = seededSubset(split.test, n, seed + 29);
const triggered = attack.poisonTest(test);
const out = values.out!;
writeFolder(unlabeled, join(out, 'unlabeled'));
writeFolder(test, join(out, 'test'));
writeFolder(triggered, join(out, 'triggered'));
writeFileSync(join(out, 'class-names.txt'), split.train.classes.map(folderName).join('\n') + '\n');
const model = join(defaultBackdoorDir(spec, 'results/backdoored'), 'model.safetensors');
const { tensors, metadata } = readSafetensors(model);
const renamed = new Map<string, SafeTensor>([...tensors].map(([k, t]) => [k.replace('.shortcut.', '.downsample.').replace(/^linear\./, 'fc.'), t]));
writeSafetensors(join(out, 'model.safetensors'), renamed, { ...metadata, note: `${model} with torchvision names` });
console.log(`${out}: model.safetensors (from ${model}, torchvision names), unlabeled/ (${unlabeled.n}), test/ (${test.n}), triggered/ (${triggered.n} non-target test images with the trigger, filed under the target ${split.train.classes[0]}), class-names.txt`);
