import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigMismatchError, isComplete, reproduceAttack, reuseBaselines, type ReproduceOptions } from '../../src/pipeline/reproduce.js';
import type { AttackResult } from '../../src/pipeline/report.js';
import { tinyReproduce } from './tiny.js';
import { ResNet18 } from '../../src/nn/resnet.js';
import { loadCheckpoint } from '../../src/nn/checkpoint.js';
import { hits, predict } from '../../src/train/evaluate.js';
import { loadDefendedModel } from '../../src/refine/defense.js';
import { createAttack } from '../../src/pipeline/backdoor.js';

const tmp = mkdtempSync(join(tmpdir(), 'repro-'));
const { data, opts } = tinyReproduce(tmp, { backdoorDir: join(tmp, 'backdoor'), curveEval: 8 });
const refine = opts.refine;
const resultFile = join(tmp, 'results', 'badnets', 'result.json');

test('one attack end to end on tiny data: result.json complete, figures written', async () => {
  const r = await reproduceAttack(opts, data);
  assert.is(r.status, 'complete');
  for (const k of ['noDefense', 'shrinkPad', 'refine'] as const) {
    assert.ok(r.evaluation[k]!.BA >= 0 && r.evaluation[k]!.BA <= 1, k);
    assert.ok(r.evaluation[k]!.ASR >= 0 && r.evaluation[k]!.ASR <= 1, k);
  }
  // No Defense and REFINE recomputed from the files the run left: the backdoored model in its
  // folder, the defended model in refine/ (the whole test set and its triggered copy)
  const model = new ResNet18({ numClasses: 4, inChannels: 1, width: opts.classifier.width, seed: 0 });
  loadCheckpoint(model, join(r.backdoor!.dir, 'model.safetensors'));
  const norm = { normalization: data.normalization };
  const triggered = createAttack({ attack: 'badnets', dataset: 'synthetic', presetName: 'quick', preset: opts.classifier, target: 0 }, data.train).poisonTest(data.test);
  const share = (pred: Int32Array) => pred.filter((c) => c === 0).length / pred.length;
  assert.is(hits(await predict(model, data.test, norm), data.test.labels) / data.test.n, r.evaluation.noDefense!.BA, 'No Defense BA');
  assert.is(share(await predict(model, triggered, norm)), r.evaluation.noDefense!.ASR, 'No Defense ASR');
  const defended = loadDefendedModel(r.refine.refine!.dir, model, { firstChannels: refine.unetChannels, channels: 1 });
  assert.is(hits(await predict(defended, data.test, norm), data.test.labels) / data.test.n, r.evaluation.refine!.BA, 'REFINE BA');
  assert.is(share(await predict(defended, triggered, norm)), r.evaluation.refine!.ASR, 'REFINE ASR');
  assert.is(r.config.shrinkPadPad, 2);
  assert.is(r.refine.refine!.history.length, 1);
  assert.is(r.refine.refine!.history[0]!.pseudoLabelCounts.reduce((a, b) => a + b, 0), 16);
  assert.ok(r.refine.refine!.history[0]!.benignAccuracy !== undefined);
  // REFINE's augmentation checked on its unlabeled images (min(1000, 16) of them)
  const a = r.diagnostics!.augmentation!;
  assert.is(a.images, 16);
  assert.equal(a.augment, refine.augment);
  assert.ok(a.changed >= 0 && a.changed <= 1);
  assert.ok(Math.abs(a.augmentedShares.reduce((x, y) => x + y, 0) - 1) < 1e-9);
  assert.ok(existsSync(join(tmp, 'results', 'badnets', 'figures', 'samples.svg')));
  assert.ok(existsSync(join(tmp, 'results', 'badnets', 'figures', 'curves.svg')));
  assert.equal(r.figures, [join(tmp, 'results', 'badnets', 'figures', 'samples.svg'), join(tmp, 'results', 'badnets', 'figures', 'curves.svg')]);
  const samples = readFileSync(join(tmp, 'results', 'badnets', 'figures', 'samples.svg'), 'utf8');
  // one embedded image per class and row (4 rows), headed by the class names
  assert.is(samples.match(/<image /g)!.length, 4 * data.test.classes.length);
  for (const name of data.test.classes) assert.ok(samples.includes(`>${name}</text>`), name);
  assert.ok(isComplete(opts.outRoot, 'badnets', r.configHash));
});

test('a complete attack is skipped; a missing stage is redone, the others reused', async () => {
  const before = readFileSync(resultFile, 'utf8');
  const r = await reproduceAttack(opts, data);
  assert.is(readFileSync(resultFile, 'utf8'), before, 'result.json untouched');
  assert.is(r.status, 'complete');
  // drop the REFINE evaluation: the rerun keeps No Defense / ShrinkPad and the backdoored model
  const prev = JSON.parse(before) as AttackResult;
  const cut: AttackResult = { ...prev, status: 'incomplete', evaluation: { noDefense: prev.evaluation.noDefense, shrinkPad: prev.evaluation.shrinkPad }, refine: {} };
  writeFileSync(resultFile, JSON.stringify(cut));
  const r2 = await reproduceAttack(opts, data);
  assert.is(r2.status, 'complete');
  assert.equal(r2.evaluation.noDefense, prev.evaluation.noDefense);
  assert.equal(r2.diagnostics, prev.diagnostics);
  assert.ok(r2.backdoor!.reused, 'backdoored model reused from its folder');
  // REFINE resumed from its finished checkpoint: same history, same numbers
  assert.equal(r2.refine.refine!.history, prev.refine.refine!.history);
  assert.equal(r2.evaluation.refine!.BA, prev.evaluation.refine!.BA);
});

test('a complete result with figures of an older format gets them redrawn, nothing retrained', async () => {
  const figDir = join(tmp, 'results', 'badnets', 'figures');
  const prev = JSON.parse(readFileSync(resultFile, 'utf8')) as AttackResult;
  const oldPng = join(figDir, 'samples.png');
  writeFileSync(oldPng, 'an old raster figure');
  rmSync(join(figDir, 'samples.svg'));
  rmSync(join(figDir, 'curves.svg'));
  writeFileSync(resultFile, JSON.stringify({ ...prev, figures: [oldPng, join(figDir, 'curves.png')] }));
  const r = await reproduceAttack(opts, data);
  assert.is(r.status, 'complete');
  assert.equal(r.figures, [join(figDir, 'samples.svg'), join(figDir, 'curves.svg')]);
  assert.ok(existsSync(join(figDir, 'samples.svg')) && existsSync(join(figDir, 'curves.svg')));
  assert.not.ok(existsSync(oldPng), 'the old figure removed');
  assert.equal(r.refine.refine!.history, prev.refine.refine!.history);
  assert.equal(r.evaluation, prev.evaluation);
});

test('the augmentation guard: every check recorded; a result from before the probes gets them; a changed remedy retrains', async () => {
  const gOpts: ReproduceOptions = { ...opts, refine: { ...refine, augmentationGuard: true }, outRoot: join(tmp, 'results-guard') };
  const file = join(gOpts.outRoot, 'badnets', 'result.json');
  const r = await reproduceAttack(gOpts, data);
  assert.is(r.status, 'complete');
  assert.equal(r.diagnostics!.photometric!.augment, { colorJitter: { brightness: 0.3, contrast: 0.3 } });
  assert.equal(r.diagnostics!.rotation!.augment, { rotation: { degrees: 20 } });
  assert.equal(Object.keys(r.diagnostics!.guard!).sort(), ['crop', 'photometric', 'rotation']);
  assert.ok(r.diagnostics!.guard !== undefined && r.diagnostics!.augmentationGuard !== undefined);
  // written before the probes existed: the rerun measures them and, the remedy being the same, keeps REFINE
  const old = JSON.parse(readFileSync(file, 'utf8')) as AttackResult;
  const { photometric: _p, rotation: _r, guard: _g, ...oldDiag } = old.diagnostics!;
  writeFileSync(file, JSON.stringify({ ...old, diagnostics: oldDiag }));
  const logs: string[] = [];
  const r2 = await reproduceAttack({ ...gOpts, log: (m) => logs.push(m) }, data);
  assert.equal(r2.diagnostics!.photometric, old.diagnostics!.photometric);
  assert.equal(r2.diagnostics!.rotation, old.diagnostics!.rotation);
  assert.equal(r2.refine.refine!.history, old.refine.refine!.history);
  assert.ok(!logs.some((l) => l.includes('training it again')));
  // the variant was trained with another guarded configuration: it is trained again, not refused
  const cfgFile = join(gOpts.outRoot, 'badnets', 'refine', 'config.json');
  writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), hash: 'stale' }));
  writeFileSync(file, JSON.stringify({ ...old, diagnostics: oldDiag }));
  logs.length = 0;
  const r3 = await reproduceAttack({ ...gOpts, log: (m) => logs.push(m) }, data);
  assert.ok(logs.some((l) => l.includes('training it again')), logs.join('\n'));
  assert.is(r3.status, 'complete');
  assert.is(r3.refine.refine!.history.length, 1);
  assert.is.not((JSON.parse(readFileSync(cfgFile, 'utf8')) as { hash: string }).hash, 'stale');
  // a complete result whose REFINE trained with another remedy than this version gives its guard
  // decision (here: the rotation remedy, which this run's decision does not call for) is reopened
  // and trained again, not reported as it is
  const done = JSON.parse(readFileSync(file, 'utf8')) as AttackResult;
  const refineRun = done.refine.refine!;
  writeFileSync(file, JSON.stringify({ ...done, refine: { ...done.refine, refine: { ...refineRun, config: { ...refineRun.config, augment: { ...refineRun.config.augment, rotation: { degrees: 20, p: 0.5 } } } } } }));
  logs.length = 0;
  const r4 = await reproduceAttack({ ...gOpts, log: (m) => logs.push(m) }, data);
  assert.ok(logs.some((l) => l.includes('another remedy of the augmentation guard')), logs.join('\n'));
  assert.equal(r4.refine.refine!.config, refineRun.config);
  // and one trained with this version's remedy is skipped
  logs.length = 0;
  await reproduceAttack({ ...gOpts, log: (m) => logs.push(m) }, data);
  assert.ok(logs.some((l) => l.includes('complete in')), logs.join('\n'));
});

test('results of another configuration are refused', async () => {
  try {
    await reproduceAttack({ ...opts, refine: { ...refine, lambda: 0.5 } }, data);
    assert.unreachable('should throw');
  } catch (e) {
    assert.instance(e, ConfigMismatchError);
    assert.match((e as Error).message, /holds results of another configuration \([0-9a-f]+ ≠ [0-9a-f]+\): use another --out or delete that folder/);
  }
});

test('another --out with other REFINE options reuses No Defense / ShrinkPad of the same model, not of another', async () => {
  const prev = JSON.parse(readFileSync(resultFile, 'utf8')) as AttackResult;
  const out = join(tmp, 'results-lambda');
  const r = await reproduceAttack({ ...opts, outRoot: out, refine: { ...refine, lambda: 0.5 } }, data);
  assert.is(r.status, 'complete');
  assert.is(r.baselinesFrom, join(tmp, 'results', 'badnets'));
  assert.equal(r.evaluation.noDefense, prev.evaluation.noDefense);
  assert.equal(r.evaluation.shrinkPad, prev.evaluation.shrinkPad);
  assert.equal(r.diagnostics!.augmentation, prev.diagnostics!.augmentation, 'same unlabeled images and augmentation');
  // another backdoored model (a different test accuracy), another test subset, or another augmentation
  const bare = (mod: (x: AttackResult) => void): AttackResult => {
    const x = JSON.parse(JSON.stringify(prev)) as AttackResult;
    x.evaluation = {};
    x.diagnostics = {};
    mod(x);
    return x;
  };
  const own = join(tmp, 'results-new', 'badnets');
  mkdirSync(own, { recursive: true });
  assert.is(reuseBaselines(bare((x) => (x.backdoor!.trainBA += 0.01)), [tmp], own), null);
  assert.is(reuseBaselines(bare((x) => (x.data.testImages -= 1)), [tmp], own), null);
  const otherAug = bare((x) => (x.config.refine = { ...x.config.refine, augment: { flip: 0.5 } }));
  assert.ok(reuseBaselines(otherAug, [tmp], own));
  assert.ok(otherAug.evaluation.noDefense && !otherAug.diagnostics!.augmentation, 'baselines reused, augmentation check not');
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
