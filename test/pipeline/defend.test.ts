import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { noGrad, scope, tensor } from '../../src/index.js';
import { ResNet18, ResNet50 } from '../../src/nn/resnet.js';
import { saveCheckpoint } from '../../src/nn/checkpoint.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../../src/nn/safetensors.js';
import { loadImageFolder } from '../../src/data/image-folder.js';
import { hits, predict } from '../../src/train/evaluate.js';
import { buildClassifier, checkOutputFolder, defend, defenseGoal, inferClassifier, loadDefended, type DefenseConfig, type DefenseReport } from '../../src/pipeline/defend.js';
import { refinePreset, withRefineOverrides } from '../../src/pipeline/refine-presets.js';
import { Rng } from '../../src/util/random.js';

const tmp = mkdtempSync(join(tmpdir(), 'defend-'));

/** Asserts that the promise rejects with a message matching `re`. */
async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  const outcome = await p.then(() => 'resolved', (e: Error) => e.message);
  assert.match(outcome, re);
}

/** A folder of 16×16 grey images in 4 class folders, PNG and JPEG mixed. */
function writeFolder(root: string, perClass: number, seed: number): void {
  const r = new Rng(seed);
  for (const cls of ['a', 'b', 'c', 'd']) {
    mkdirSync(join(root, cls), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const data = Buffer.alloc(16 * 16 * 4);
      for (let p = 0; p < 256; p++) {
        const v = r.int(256);
        data.set([v, v, v, 255], 4 * p);
      }
      if (i % 2) writeFileSync(join(root, cls, `${i}.jpg`), jpeg.encode({ data, width: 16, height: 16 }, 95).data);
      else {
        const png = new PNG({ width: 16, height: 16 });
        data.copy(png.data);
        writeFileSync(join(root, cls, `${i}.png`), PNG.sync.write(png));
      }
    }
  }
}

test('defend: a torchvision-named classifier and a PNG/JPEG folder give a self-contained defended-model folder', async () => {
  const f = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 1 }).eval();
  const plain = join(tmp, 'plain.safetensors');
  await saveCheckpoint(f, plain);
  // re-saved with torchvision names
  const modelDir = join(tmp, 'model');
  mkdirSync(modelDir);
  const model = join(modelDir, 'resnet.safetensors');
  const tv = new Map<string, SafeTensor>([...readSafetensors(plain).tensors].map(([n, t]) => [n.replace('.shortcut.', '.downsample.').replace(/^linear\./, 'fc.'), t]));
  writeSafetensors(model, tv);
  const spec = inferClassifier(model);
  assert.equal(spec, { arch: 'resnet18-cifar', width: 0.0625, numClasses: 4, inChannels: 1 });
  const dataDir = join(tmp, 'data');
  writeFolder(dataDir, 6, 2);
  const unlabeled = loadImageFolder(dataDir);
  assert.equal([unlabeled.n, unlabeled.h, unlabeled.c], [24, 16, 1]);
  const refine = withRefineOverrides(refinePreset('budget', { h: 16, w: 16, c: 1 }, 3), { epochs: 2, batchSize: 8, unetChannels: 4 });
  const out = join(tmp, 'defended');
  const normalization = { mean: [0.5], std: [0.25] };
  const base = { model, spec, unlabeled, normalization, classes: ['a', 'b', 'c', 'd'], preset: 'budget', refine, test: unlabeled, engine: { name: 'refine-gpu', version: 'test' }, dataFolders: [dataDir], quiet: true, log: () => {} };
  // inputs are never written to
  await rejects(defend({ ...base, out: join(dataDir, 'a', 'x') }), /inside the data folder/);
  await rejects(defend({ ...base, out: modelDir }), /is the folder of the model file/);
  assert.not.ok(existsSync(join(dataDir, 'a', 'x')));
  const report = await defend({ ...base, out });
  for (const file of ['defense.json', 'classifier.safetensors', 'unet.safetensors', 'mapping.json', 'report.json', 'report.md']) assert.ok(existsSync(join(out, file)), file);
  assert.not.ok(existsSync(join(out, 'train')), 'the training checkpoint is removed when finished');
  const cfg = JSON.parse(readFileSync(join(out, 'defense.json'), 'utf8')) as DefenseConfig;
  assert.equal([cfg.classifier.arch, cfg.input.h, cfg.input.c, cfg.classes, cfg.refine.unetChannels, cfg.augmentationGuard === 'off'], ['resnet18-cifar', 16, 1, ['a', 'b', 'c', 'd'], 4, false]);
  assert.match(cfg.classifier.sha256, /^[0-9a-f]{64}$/);
  // all of the guard's checks ran; what fired is recorded and the trained configuration follows it
  assert.equal(report.photometric!.augment, { colorJitter: { brightness: 0.3, contrast: 0.3 } });
  assert.equal(report.rotation!.augment, { rotation: { degrees: 20 } });
  assert.ok(cfg.guard !== undefined);
  assert.is(cfg.refine.augment.colorJitter !== undefined, cfg.guard!.photometric);
  assert.is(cfg.refine.augment.rotation !== undefined, cfg.guard!.rotation);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /Brightness\/contrast probe \(ColorJitter 0\.3 \/ 0\.3\)/);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /Rotation probe \(up to ±20°\)/);
  assert.equal(report.history.map((h) => h.stepsDone), [3, 6]);
  assert.ok(report.before.test!.accuracy !== undefined && report.after.test!.accuracy !== undefined);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /## Accuracy before and after/);
  // the folder alone loads the defended model, with the same predictions as the one just trained
  const { defended, config } = loadDefended(out);
  assert.equal(config.classes, ['a', 'b', 'c', 'd']);
  const x = tensor(new Float32Array(3 * 256).map((_, i) => ((i * 13) % 17) / 8 - 1), [3, 16, 16, 1]);
  const p = scope(() => noGrad(() => defended.probabilities(x)));
  const probs = (await p.read()) as Float32Array;
  assert.ok(probs.every((v) => Number.isFinite(v)) && Math.abs(probs.slice(0, 4).reduce((s, v) => s + v, 0) - 1) < 1e-4);
  const pred = await predict(defended, unlabeled, { normalization });
  assert.is(hits(pred, unlabeled.labels) / unlabeled.n, report.after.test!.accuracy, 'the loaded folder scores what the report says');
  // a rerun reports the finished folder without retraining; another configuration is refused
  const again = await defend({ ...base, out });
  assert.equal(again.history, report.history);
  await rejects(defend({ ...base, out, refine: { ...refine, epochs: 3 } }), /another configuration/);
  // a changed classifier file is caught by its SHA-256
  writeFileSync(join(out, 'classifier.safetensors'), readFileSync(plain));
  assert.throws(() => loadDefended(out), /SHA-256 .* differs from defense\.json/);
  for (const t of [x, p]) t.dispose();
  defended.unet.dispose();
  defended.classifier.dispose();
  f.dispose();
});

test('checkOutputFolder: the model folder and data folders (and inside them) are refused, elsewhere is fine', () => {
  assert.throws(() => checkOutputFolder('/d/m', '/d/m/model.safetensors', []), /folder of the model file/);
  assert.throws(() => checkOutputFolder('/data/x/y', '/m/f.safetensors', ['/data/x']), /inside the data folder \/data\/x/);
  assert.throws(() => checkOutputFolder('/data/x', '/m/f.safetensors', ['/data/x/']), /is the data folder/);
  checkOutputFolder('/d/m/out', '/d/m/model.safetensors', ['/data/x']);
  checkOutputFolder('/data/xy', '/m/f.safetensors', ['/data/x']);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test('inferClassifier: ResNet-18 and ResNet-50, CIFAR and ImageNet stems, width and classes from the shapes', async () => {
  const cases = [
    [new ResNet18({ numClasses: 7, inChannels: 1, width: 0.125 }), { arch: 'resnet18-cifar', width: 0.125, numClasses: 7, inChannels: 1 }],
    [new ResNet50({ numClasses: 5, inChannels: 3, width: 0.0625 }), { arch: 'resnet50-cifar', width: 0.0625, numClasses: 5, inChannels: 3 }],
    [new ResNet50({ numClasses: 3, inChannels: 3, width: 0.0625, stem: 'imagenet' }), { arch: 'resnet50-imagenet', width: 0.0625, numClasses: 3, inChannels: 3 }],
  ] as const;
  for (const [m, want] of cases) {
    const f = join(tmp, `${want.arch}.safetensors`);
    await saveCheckpoint(m, f);
    assert.equal(inferClassifier(f), want);
    const rebuilt = buildClassifier(inferClassifier(f));
    assert.is(rebuilt.parameterCount(), m.parameterCount(), want.arch);
    rebuilt.dispose();
    m.dispose();
  }
});

test('defenseGoal: met, missed on accuracy or ASR, or unknown without both measurements', () => {
  const ev = (accuracy?: number, targetShare?: number) => ({ images: 100, accuracy, targetShare, topClass: 'a', topShare: 0.1 });
  const r = (ba0: number, ba1: number, asr: number) => ({ before: { test: ev(ba0), triggered: ev(undefined, 1) }, after: { test: ev(ba1), triggered: ev(undefined, asr) } }) as unknown as DefenseReport;
  assert.is(defenseGoal(r(0.914, 0.89, 0.016)), 'met (accuracy 2.4 points below, ASR 1.60%)');
  assert.is(defenseGoal(r(0.914, 0.881, 0.016)), 'missed (accuracy 3.3 points below, 0.3 over the 3 allowed)');
  assert.is(defenseGoal(r(0.914, 0.9, 0.08)), 'missed (ASR 8.00%)');
  assert.is(defenseGoal({ before: {}, after: {} } as unknown as DefenseReport), null);
});

test.run();
