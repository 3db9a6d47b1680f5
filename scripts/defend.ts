/**
 * npm run defend -- --model FILE.safetensors --data DATA --out DIR [options]
 *
 * REFINE in front of your own classifier (src/pipeline/defend.ts, docs/defend.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { autotune, describeTuning, init, shutdown } from '../src/index.js';
import { loadDataset, datasetStats } from '../src/data/registry.js';
import { classFolders, loadImageFolder } from '../src/data/image-folder.js';
import type { ImageDataset, Normalization } from '../src/data/dataset.js';
import { ARCHS, defend, inferClassifier, readClassNames, type Arch, type ClassifierSpec } from '../src/pipeline/defend.js';
import { REFINE_PRESETS, refinePreset, withRefineOverrides } from '../src/pipeline/refine-presets.js';
import { seededSubset } from '../src/data/dataset.js';
import { folderFlags, FOLDER_OPTIONS, FOLDER_USAGE, num, parseArgsOrExit } from '../src/util/cli.js';
import { recipeFlagOptions, recipeFlagUsage, recipeOverrides } from '../src/pipeline/refine-flags.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const USAGE = `usage: npm run defend -- --model FILE.safetensors --data DATA --out DIR [options]

Trains REFINE's input transformation in front of a frozen ResNet-18 classifier on unlabeled
images and writes a defended-model folder (defense.json, the weights, report.md / report.json).
Rerun the same command after an interruption: it resumes; a finished folder is reported.

  --model FILE                the classifier (safetensors, PyTorch names; BackdoorBox's
                              shortcut/linear or torchvision's downsample/fc; F32/F16/BF16)
  --data DATA                 unlabeled images: fashion-mnist | cifar10 (their training split)
                              | folder:DIR (DIR/train/<class>/*.png|jpg if present, else
                              DIR/<class>/...; the labels are never read)
  --out DIR                   the defended-model folder (never an input folder)
  --test DATA                 labelled clean test images for the accuracy before / after:
                              fashion-mnist | cifar10 (their test split) | folder:DIR (DIR/<class>/...)
  --triggered DIR             triggered images (DIR/<class>/...) for the attack success before /
                              after; with --target the share classified as the target is the ASR
  --target N|NAME             the attack's target class (optional)
  --arch resnet18-cifar|resnet18-imagenet|resnet50-cifar|resnet50-imagenet   (default: from the checkpoint)
  --width X  --classes N      (default: from the checkpoint)
  --class-names FILE          one class name per line (default: the dataset's or folder's)
  --mean A[,B,C] --std A[,B,C]  the classifier's input normalisation (default: the dataset's;
                              for folders, the unlabeled images' own statistics, with a warning)
  --preset ${REFINE_PRESETS.join('|')}   REFINE recipe (default budget: 13 epochs, one-cycle SGD, about an hour
                              for 10,000 28×28 images on 2 cores; docs/refine-recipe.md)
  --seed N                    REFINE seed (default 666)
  --data-dir DIR              datasets root (default data)
${FOLDER_USAGE}
REFINE recipe (the preset's unless given):
${recipeFlagUsage('defend')}
  -h, --help`;

const { values } = parseArgsOrExit('defend', USAGE, {
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    test: { type: 'string' },
    triggered: { type: 'string' },
    target: { type: 'string' },
    arch: { type: 'string' },
    width: { type: 'string' },
    classes: { type: 'string' },
    'class-names': { type: 'string' },
    mean: { type: 'string' },
    std: { type: 'string' },
    preset: { type: 'string', default: 'budget' },
    ...recipeFlagOptions('defend'),
    seed: { type: 'string', default: '666' },
    'data-dir': { type: 'string', default: 'data' },
    ...FOLDER_OPTIONS,
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: false,
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function floats(flag: string, v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const xs = v.split(',').map(Number);
  if (!xs.length || xs.some((x) => !Number.isFinite(x))) throw new Error(`--${flag} must be comma-separated numbers, got '${v}'`);
  return xs;
}

/** A dataset name's split, or an image folder read with the classifier's class list, size and channels. */
function images(spec: string, split: 'train' | 'test', classes: string[] | undefined, folder: ReturnType<typeof folderFlags>): { ds: ImageDataset; normalization?: Normalization; folder?: string } {
  if (spec.startsWith('folder:')) {
    const dir = spec.slice('folder:'.length);
    const root = split === 'train' && existsSync(join(dir, 'train')) ? join(dir, 'train') : dir;
    return { ds: loadImageFolder(root, { ...folder, classes: classes ?? classFolders(root) }), folder: dir };
  }
  const { split: s, normalization } = loadDataset(spec, values['data-dir']);
  return { ds: s[split], normalization };
}

let code = 0;
try {
  for (const f of ['model', 'data', 'out'] as const) if (!values[f]) throw new Error(`--${f} is required`);
  const recipe = recipeOverrides('defend', values);
  const model = values.model!;
  if (!existsSync(model)) throw new Error(`--model ${model}: no such file`);
  const inferred = inferClassifier(model);
  const spec: ClassifierSpec = {
    arch: (values.arch as Arch | undefined) ?? inferred.arch,
    width: num('width', values.width, 'pos') ?? inferred.width,
    numClasses: num('classes', values.classes, 'int') ?? inferred.numClasses,
    inChannels: inferred.inChannels,
  };
  if (!ARCHS.includes(spec.arch)) throw new Error(`--arch must be one of ${ARCHS.join(', ')}, got '${spec.arch}'`);
  const folder = folderFlags(values);
  folder.channels ??= spec.inChannels as 1 | 3;
  const names = values['class-names'] ? readClassNames(values['class-names']) : undefined;
  // the unlabeled images' sub-folders are not labels: read them with their own folder list
  const data = images(values.data!, 'train', undefined, folder);
  const classes = names ?? (data.ds.classes.length === spec.numClasses ? data.ds.classes : Array.from({ length: spec.numClasses }, (_, k) => String(k)));
  if (classes.length !== spec.numClasses) throw new Error(`${classes.length} class names for a classifier of ${spec.numClasses} classes`);
  const size = { h: data.ds.h, w: data.ds.w };
  const mean = floats('mean', values.mean);
  const std = floats('std', values.std);
  let normalization = data.normalization;
  if (mean || std) {
    if (!mean || !std || mean.length !== spec.inChannels || std.length !== spec.inChannels) throw new Error(`--mean and --std need ${spec.inChannels} value(s) each`);
    if (std.some((v) => !(v > 0))) throw new Error(`--std values must be positive, got ${values.std}`);
    normalization = { mean, std };
  }
  if (!normalization) {
    normalization = datasetStats(data.ds);
    console.error(`defend: no --mean/--std: using the unlabeled images' own statistics (mean ${normalization.mean}, std ${normalization.std}); give the classifier's training normalisation if you know it`);
  }
  const test = values.test ? images(values.test, 'test', classes, { ...folder, size }).ds : undefined;
  const triggered = values.triggered ? loadImageFolder(values.triggered, { ...folder, size, classes }) : undefined;
  let target: number | undefined;
  if (values.target !== undefined) {
    target = /^\d+$/.test(values.target) ? Number(values.target) : classes.indexOf(values.target);
    if (!(target >= 0 && target < classes.length)) throw new Error(`--target ${values.target} is not a class (${classes.join(', ')})`);
  }
  const seed = num('seed', values.seed, 'nonneg-int')!;
  const refine = withRefineOverrides(refinePreset(values.preset!, { ...size, c: spec.inChannels }, seed), recipe);
  const unlabeled = seededSubset(data.ds, refine.trainSubset, seed + 17, `${data.ds.name}[unlabeled]`);
  if (unlabeled.n < refine.batchSize) throw new Error(`${unlabeled.n} unlabeled images are fewer than one batch of ${refine.batchSize}`);
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  const rtm = await init();
  console.error(`adapter: ${rtm.adapterName}`);
  console.error(describeTuning(await autotune()));
  console.error(`defend: ${spec.arch} ×${spec.width}, ${spec.numClasses} classes, ${unlabeled.n} unlabeled ${unlabeled.h}×${unlabeled.w}×${unlabeled.c} images, preset ${values.preset} → ${values.out}`);
  const report = await defend({
    model,
    spec,
    unlabeled,
    normalization,
    classes,
    preset: values.preset!,
    refine,
    out: values.out!,
    test,
    triggered,
    target,
    engine: { name: pkg.name, version: pkg.version },
    dataFolders: [values.data!, values.test ?? '', values.triggered ? `folder:${values.triggered}` : ''].filter((d) => d.startsWith('folder:')).map((d) => d.slice('folder:'.length)),
  });
  const fmt = (v: number | undefined) => (v === undefined ? '—' : `${(100 * v).toFixed(2)}%`);
  if (report.before.test) console.log(`accuracy on clean test images: ${fmt(report.before.test.accuracy)} → ${fmt(report.after.test?.accuracy)}`);
  if (report.before.triggered && target !== undefined) console.log(`attack success (triggered → '${classes[target]}'): ${fmt(report.before.triggered.targetShare)} → ${fmt(report.after.triggered?.targetShare)}`);
  console.log(`defended model: ${values.out} (report.md)`);
  shutdown();
} catch (e) {
  console.error(`defend: ${(e as Error).message}`);
  code = 1;
}
process.exitCode = code;
