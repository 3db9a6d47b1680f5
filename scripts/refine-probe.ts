/**
 * npm run refine-probe -- --model FILE [--dataset fashion-mnist] [--width 0.25] [--lr X] [--epochs N]
 *   [--subset N] [--utility bce|ce] [--lambda X] [--batch-size N] [--unet-channels N] [--tag NAME] [--json FILE]
 *
 * A short REFINE run against a classifier checkpoint, without the attack pipeline: how fast does
 * the defended model's agreement with the pseudo-labels (and its clean accuracy on 1,000 test
 * images) rise for a given optimizer setting? Used to calibrate the quick preset (README,
 * "Reproduction"); prints the agreement per 10 steps and writes the per-step log with --json.
 * Starts from the quick preset; no learning-rate milestones.
 */
import { writeFileAtomic } from '../src/util/files.js';
import { autotune, describeTuning, init, shutdown } from '../src/index.js';
import { loadDataset } from '../src/data/registry.js';
import { ResNet18 } from '../src/nn/resnet.js';
import { loadCheckpoint } from '../src/nn/checkpoint.js';
import { trainRefine } from '../src/refine/defense.js';
import { refinePreset } from '../src/pipeline/refine-presets.js';
import { seededSubset } from '../src/data/dataset.js';
import { parseArgsOrExit } from '../src/util/cli.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const USAGE = `usage: npm run refine-probe -- --model FILE [options]
  A short REFINE run (quick preset, no lr milestones) against a ResNet-18 checkpoint: the
  agreement with the pseudo-labels per 10 steps, and per epoch the BA on 1,000 test images.
  --model FILE          the classifier checkpoint (.safetensors; required)
  --dataset NAME        fashion-mnist|cifar10|folder:DIR (default: fashion-mnist)
  --data-dir DIR        where datasets live (default: data)
  --width X             the checkpoint's ResNet-18 width multiplier (default: 0.25)
  --subset N            REFINE training images (default: 5000)
  --epochs N            (default: 2)
  --lr X  --lambda X  --batch-size N  --unet-channels N  --utility bce|ce
                        override the quick preset's value
  --tag NAME            prefix of the printed lines (default: probe)
  --json FILE           write the config, per-epoch history and per-step log there
  -h, --help`;
const { values } = parseArgsOrExit('refine-probe', USAGE, {
  options: {
    model: { type: 'string' },
    dataset: { type: 'string', default: 'fashion-mnist' },
    'data-dir': { type: 'string', default: 'data' },
    width: { type: 'string', default: '0.25' },
    lr: { type: 'string' },
    epochs: { type: 'string', default: '2' },
    subset: { type: 'string', default: '5000' },
    utility: { type: 'string' },
    lambda: { type: 'string' },
    'batch-size': { type: 'string' },
    'unet-channels': { type: 'string' },
    tag: { type: 'string', default: 'probe' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (!values.model) {
  console.error('refine-probe: --model FILE (a ResNet-18 safetensors checkpoint) is required');
  process.exit(1);
}
const numOr = (v: string | undefined, d: number, what: string): number => {
  if (v === undefined) return d;
  const x = Number(v);
  if (!Number.isFinite(x) || x < 0) throw new Error(`--${what} must be a non-negative number, got '${v}'`);
  return x;
};

await init();
console.error(describeTuning(await autotune()));
try {
  const { split, normalization } = loadDataset(values.dataset!, values['data-dir']);
  const size = { h: split.train.h, w: split.train.w, c: split.train.c };
  const base = refinePreset('quick', size);
  const utility = (values.utility ?? base.utility) as 'bce' | 'ce';
  if (utility !== 'bce' && utility !== 'ce') throw new Error(`--utility must be bce or ce, got '${utility}'`);
  const cfg = {
    ...base,
    lr: numOr(values.lr, base.lr, 'lr'),
    epochs: numOr(values.epochs, 2, 'epochs'),
    batchSize: numOr(values['batch-size'], base.batchSize, 'batch-size'),
    unetChannels: numOr(values['unet-channels'], base.unetChannels, 'unet-channels'),
    lambda: numOr(values.lambda, base.lambda, 'lambda'),
    utility,
    milestones: [],
  };
  const f = new ResNet18({ numClasses: split.train.classes.length, inChannels: size.c, width: numOr(values.width, 0.25, 'width'), seed: 666, stem: size.h >= 128 ? 'imagenet' : 'cifar' });
  loadCheckpoint(f, values.model);
  const data = seededSubset(split.train, numOr(values.subset, 5000, 'subset'), cfg.seed);
  const evalSet = seededSubset(split.test, 1000, 1);
  const tag = values.tag!;
  console.log(`${tag}: lr ${cfg.lr}, ${cfg.utility}, λ ${cfg.lambda}, batch ${cfg.batchSize}, UNet c ${cfg.unetChannels}, ${cfg.epochs} epochs on ${data.n} images`);
  const r = await trainRefine(f, data, cfg, { normalization, numClasses: split.train.classes.length, evalSet });
  for (let i = 0; i < r.steps.length; i += 10) {
    const w = r.steps.slice(i, i + 10);
    const avg = (k: 'agreement' | 'loss' | 'supcon') => w.reduce((p, x) => p + x[k], 0) / w.length;
    console.log(`${tag} steps ${i}-${i + w.length - 1}: agreement ${(100 * avg('agreement')).toFixed(1)}%, loss ${avg('loss').toFixed(4)}, supcon ${avg('supcon').toFixed(3)}`);
  }
  for (const h of r.history) console.log(`${tag} epoch ${h.epoch}: agreement ${(100 * h.agreement).toFixed(1)}%, BA (1,000 test images) ${(100 * (h.benignAccuracy ?? NaN)).toFixed(1)}%, max class share ${(100 * h.maxClassShare).toFixed(0)}%`);
  if (values.json) writeFileAtomic(values.json, JSON.stringify({ tag, model: values.model, config: cfg, history: r.history, steps: r.steps }, null, 1));
  r.defended.unet.dispose();
  f.dispose();
} catch (e) {
  console.error(`refine-probe: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  await shutdown();
}
