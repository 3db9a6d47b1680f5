/**
 * npm run defend -- --model FILE.safetensors --data DATA --out DIR [options]
 * npm run defend -- --blackbox-url URL --classes N --data DATA --out DIR [options]
 *
 * REFINE in front of your own classifier (src/pipeline/defend.ts), or of a model behind an API
 * (src/pipeline/defend-blackbox.ts); docs/defend.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { autotune, describeTuning, init, shutdown } from '../src/index.js';
import { loadDataset, datasetStats } from '../src/data/registry.js';
import { classFolders, loadImageFolder } from '../src/data/image-folder.js';
import type { ImageDataset, Normalization } from '../src/data/dataset.js';
import { ARCHS, defend, inferClassifier, readClassNames, type Arch, type ClassifierSpec } from '../src/pipeline/defend.js';
import { defendBlackBox } from '../src/pipeline/defend-blackbox.js';
import { REFINE_PRESETS, refinePreset, withRefineOverrides } from '../src/pipeline/refine-presets.js';
import { seededSubset } from '../src/data/dataset.js';
import { folderFlags, FOLDER_OPTIONS, FOLDER_USAGE, normalizationFlags, num, parseArgsOrExit } from '../src/util/cli.js';
import { recipeFlagOptions, recipeFlagUsage, recipeOverrides } from '../src/pipeline/refine-flags.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const USAGE = `usage: npm run defend -- --model FILE.safetensors --data DATA --out DIR [options]
       npm run defend -- --blackbox-url URL --classes N --data DATA --out DIR [options]

Trains REFINE's input transformation in front of a frozen ResNet-18 or ResNet-50 classifier on
unlabeled images and writes a defended-model folder (defense.json, the weights, report.md /
report.json). Rerun the same command after an interruption: it resumes; a finished folder is
reported. With --blackbox-url the model is only reachable as an endpoint answering probabilities:
a surrogate is distilled from its answers (one query per unlabeled image), REFINE trains against
the surrogate and the defense is deployed in front of the endpoint.

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
Black box (instead of --model; the protocol is in docs/defend.md):
  --blackbox-url URL          POST batches of images, get probability vectors back
  --blackbox-format json|binary   (default json)
  --blackbox-timeout MS       per request (default 30000); --blackbox-retries N after a timeout,
                              a network error or a 5xx answer (default 2)
  --blackbox-batch N          images per request (default 256)
  --blackbox-budget N         the most images this run may send (default: no limit)
  --distill-epochs N          the surrogate's distillation epochs (default 10)
  --blackbox-refit on|off     after REFINE, query the black box on T(x), distil the surrogate
                              further and train REFINE's last 40% of epochs again (default on;
                              off is the paper's setting; docs/defend.md)
  --classes N                 the black box's classes (or --class-names FILE)
  --arch, --width             the surrogate (default resnet18, CIFAR stem below 128 px,
                              width 0.25; 1 with --preset paper)
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
    'blackbox-url': { type: 'string' },
    'blackbox-format': { type: 'string', default: 'json' },
    'blackbox-timeout': { type: 'string', default: '30000' },
    'blackbox-retries': { type: 'string', default: '2' },
    'blackbox-batch': { type: 'string', default: '256' },
    'blackbox-budget': { type: 'string' },
    'distill-epochs': { type: 'string' },
    'blackbox-refit': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: false,
});

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
  const url = values['blackbox-url'];
  if (url && values.model) throw new Error('--model and --blackbox-url exclude each other: a classifier file, or a model behind an endpoint');
  if (!url && !values.model) throw new Error('--model is required (or --blackbox-url for a model behind an endpoint)');
  for (const f of ['data', 'out'] as const) if (!values[f]) throw new Error(`--${f} is required`);
  if (!url) for (const f of ['blackbox-budget', 'distill-epochs', 'blackbox-refit'] as const) if (values[f] !== undefined) throw new Error(`--${f} needs --blackbox-url`);
  const format = values['blackbox-format'];
  if (format !== 'json' && format !== 'binary') throw new Error(`--blackbox-format must be json or binary, got '${format}'`);
  if (url && !/^https?:\/\/[^/]/.test(url)) throw new Error(`--blackbox-url must be an http:// or https:// address, got '${url}'`);
  const endpoint = url ? { url, format: format as 'json' | 'binary', timeoutMs: num('blackbox-timeout', values['blackbox-timeout'], 'pos')!, retries: num('blackbox-retries', values['blackbox-retries'], 'nonneg-int')!, batchSize: num('blackbox-batch', values['blackbox-batch'], 'int')! } : null;
  const budget = num('blackbox-budget', values['blackbox-budget'], 'int');
  const distillEpochs = num('distill-epochs', values['distill-epochs'], 'int') ?? 10;
  const refitFlag = values['blackbox-refit'] ?? 'on';
  if (refitFlag !== 'on' && refitFlag !== 'off') throw new Error(`--blackbox-refit must be on or off, got '${refitFlag}'`);
  const recipe = recipeOverrides('defend', values);
  // resizing or dropping colour changes what REFINE and the measurements see: say so
  const folder = { ...folderFlags(values), onAdapted: (m: string) => console.error(`defend: ${m}`) };
  let spec: ClassifierSpec | undefined;
  if (!url) {
    const model = values.model!;
    if (!existsSync(model)) throw new Error(`--model ${model}: no such file`);
    const inferred = inferClassifier(model);
    spec = {
      arch: (values.arch as Arch | undefined) ?? inferred.arch,
      width: num('width', values.width, 'pos') ?? inferred.width,
      numClasses: num('classes', values.classes, 'int') ?? inferred.numClasses,
      inChannels: inferred.inChannels,
    };
    folder.channels ??= spec.inChannels as 1 | 3;
  }
  const names = values['class-names'] ? readClassNames(values['class-names']) : undefined;
  // the unlabeled images' sub-folders are not labels: read them with their own folder list
  const data = images(values.data!, 'train', undefined, folder);
  if (url) {
    // the surrogate: the data's channels, the black box's classes
    const k = num('classes', values.classes, 'int') ?? names?.length ?? (values.data!.startsWith('folder:') ? undefined : data.ds.classes.length);
    if (k === undefined) throw new Error('--classes N (or --class-names FILE) is required with --blackbox-url: the number of classes the black box answers');
    spec = {
      arch: (values.arch as Arch | undefined) ?? (data.ds.h >= 128 ? 'resnet18-imagenet' : 'resnet18-cifar'),
      width: num('width', values.width, 'pos') ?? (values.preset === 'paper' ? 1 : 0.25),
      numClasses: k,
      inChannels: data.ds.c,
    };
  }
  if (!ARCHS.includes(spec!.arch)) throw new Error(`--arch must be one of ${ARCHS.join(', ')}, got '${spec!.arch}'`);
  const numClasses = spec!.numClasses;
  const classes = names ?? (data.ds.classes.length === numClasses ? data.ds.classes : Array.from({ length: numClasses }, (_, k) => String(k)));
  if (classes.length !== numClasses) throw new Error(`${classes.length} class names for a classifier of ${numClasses} classes`);
  const size = { h: data.ds.h, w: data.ds.w };
  const channels = spec!.inChannels;
  let normalization = normalizationFlags(values, channels) ?? data.normalization;
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
  // a black box normalises its own inputs: REFINE needs T(x) normalised before the surrogate (an explicit --renormalize off is refused)
  const refine = withRefineOverrides(refinePreset(values.preset!, { ...size, c: channels }, seed), url && recipe.renormalize === undefined ? { ...recipe, renormalize: true } : recipe);
  const unlabeled = seededSubset(data.ds, refine.trainSubset, seed + 17, `${data.ds.name}[unlabeled]`);
  if (unlabeled.n < refine.batchSize) throw new Error(`${unlabeled.n} unlabeled images are fewer than one batch of ${refine.batchSize}`);
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  const rtm = await init();
  console.error(`adapter: ${rtm.adapterName}`);
  console.error(describeTuning(await autotune()));
  console.error(`defend: ${endpoint ? `the black box ${endpoint.url} (surrogate ${spec!.arch} ×${spec!.width})` : `${spec!.arch} ×${spec!.width}`}, ${numClasses} classes, ${unlabeled.n} unlabeled ${unlabeled.h}×${unlabeled.w}×${unlabeled.c} images, preset ${values.preset} → ${values.out}`);
  const common = {
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
  };
  const report = endpoint
    ? await defendBlackBox({ ...common, endpoint, budget, surrogate: spec!, distillEpochs, ...(refitFlag === 'off' ? { refit: null } : {}) })
    : await defend({ ...common, model: values.model!, spec: spec! });
  const fmt = (v: number | undefined) => (v === undefined ? '—' : `${(100 * v).toFixed(2)}%`);
  if (report.before.test) console.log(`accuracy on clean test images: ${fmt(report.before.test.accuracy)} → ${fmt(report.after.test?.accuracy)}`);
  if (report.before.triggered && target !== undefined) console.log(`attack success (triggered → '${classes[target]}'): ${fmt(report.before.triggered.targetShare)} → ${fmt(report.after.triggered?.targetShare)}`);
  const bb = report.blackBox;
  if (bb) console.log(`black-box queries: ${bb.queries.distill} (distillation) + ${bb.refit ? `${bb.refit.queries} (refit) + ` : ''}${bb.queries.evaluation} (measurements)`);
  console.log(`defended model: ${values.out} (report.md)`);
  shutdown();
} catch (e) {
  console.error(`defend: ${(e as Error).message}`);
  code = 1;
}
process.exitCode = code;
