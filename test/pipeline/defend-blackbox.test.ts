/**
 * The defender's black-box path (src/pipeline/defend-blackbox.ts) against a model served over HTTP
 * on 127.0.0.1: the folder it writes, the queries it spends (counted by the server too), a kill
 * while querying (the answers saved so far are not asked again), the refit (one more query per
 * unlabeled image, saved as they arrive too; off on request), the budget, a finished folder reported without queries, and
 * the deployed defense loaded from the folder alone.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResNet18 } from '../../src/nn/resnet.js';
import { moduleBlackBox } from '../../src/train/blackbox.js';
import type { ImageDataset } from '../../src/data/dataset.js';
import { defendBlackBox, loadBlackBoxDefense, type DefendBlackBoxOptions } from '../../src/pipeline/defend-blackbox.js';
import { loadDefended, type DefenseConfig } from '../../src/pipeline/defend.js';
import { refinePreset, withRefineOverrides } from '../../src/pipeline/refine-presets.js';
import { Rng } from '../../src/util/random.js';

const tmp = mkdtempSync(join(tmpdir(), 'defend-bb-'));
const normalization = { mean: [0.5], std: [0.25] };
const classes = ['a', 'b', 'c', 'd'];

/** The suspicious model, behind the JSON protocol; `failAfter` images answered, then HTTP 500s. */
const model = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 1 }).eval();
const served = moduleBlackBox(model, 4, normalization);
let answered = 0;
let failAfter = Infinity;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    const { shape, images } = JSON.parse(Buffer.concat(chunks).toString()) as { shape: [number, number, number, number]; images: string };
    if (answered + shape[0] > failAfter) {
      res.statusCode = 500;
      res.end('down');
      return;
    }
    const p = await served.query({ images: new Uint8Array(Buffer.from(images, 'base64')), n: shape[0], h: shape[1], w: shape[2], c: shape[3] });
    answered += shape[0];
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ probabilities: Array.from({ length: shape[0] }, (_, i) => Array.from(p.subarray(i * 4, i * 4 + 4))) }));
  });
});
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/predict`;

function images(n: number, seed: number): ImageDataset {
  const r = new Rng(seed);
  return { name: `random${seed}`, images: Uint8Array.from({ length: n * 256 }, () => r.int(256)), labels: Uint8Array.from({ length: n }, () => r.int(4)), n, h: 16, w: 16, c: 1, classes };
}

const unlabeled = images(24, 2);
const testSet = images(12, 3);
const base = (out: string): DefendBlackBoxOptions => ({
  endpoint: { url, format: 'json', timeoutMs: 10_000, retries: 0, batchSize: 8 },
  surrogate: { arch: 'resnet18-cifar', width: 0.0625, numClasses: 4, inChannels: 1 },
  distillEpochs: 2,
  unlabeled,
  normalization,
  classes,
  preset: 'budget',
  refine: withRefineOverrides(refinePreset('budget', { h: 16, w: 16, c: 1 }, 3), { epochs: 2, batchSize: 8, unetChannels: 4 }),
  out,
  test: testSet,
  engine: { name: 'refine-gpu', version: 'test' },
  dataFolders: [],
  answerChunk: 8,
  quiet: true,
  log: () => {},
});

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  const outcome = await p.then(() => 'resolved', (e: Error) => e.message);
  assert.match(outcome, re);
}

test('defendBlackBox: killed while querying, resumed without asking again; the folder deploys the defense in front of the endpoint', async () => {
  const out = join(tmp, 'defended');
  // the endpoint goes down after 16 of the 24 unlabeled images: two chunks of answers are kept
  answered = 0;
  failAfter = 16;
  await rejects(defendBlackBox(base(out)), /HTTP 500/);
  assert.is(readFileSync(join(out, 'train', 'teacher.f32')).byteLength, 16 * 4 * 4);
  assert.not.ok(existsSync(join(out, 'report.json')));
  failAfter = Infinity;
  answered = 0;
  const report = await defendBlackBox(base(out));
  // 8 more answers for the distillation, 24 on T(x) for the refit, then the test images twice (black box alone, defended);
  // the report counts the distillation's queries over both runs
  assert.equal(report.blackBox!.queries, { distill: 24, evaluation: 24 });
  assert.is(report.blackBox!.refit!.queries, 24);
  assert.is(answered, 8 + 24 + 24);
  assert.equal(report.blackBox!.refit!.history.map((h) => h.epoch), [2], 'the default refit trains REFINE\'s last epoch of 2 again');
  for (const f of ['defense.json', 'classifier.safetensors', 'unet.safetensors', 'mapping.json', 'report.json', 'report.md']) assert.ok(existsSync(join(out, f)), f);
  assert.not.ok(existsSync(join(out, 'train')), 'the answers and checkpoints are removed when finished');
  const cfg = JSON.parse(readFileSync(join(out, 'defense.json'), 'utf8')) as DefenseConfig;
  assert.equal(cfg.blackBox, base(out).endpoint);
  assert.is(cfg.refine.renormalize, true);
  assert.equal(report.blackBox!.distill.map((d) => d.epoch), [1, 2]);
  assert.ok(report.blackBox!.surrogateAgreement >= 0 && report.blackBox!.surrogateAgreement <= 1);
  const md = readFileSync(join(out, 'report.md'), 'utf8');
  assert.match(md, /^# REFINE defense of the black box http:\/\/127\.0\.0\.1/);
  assert.match(md, /Queries to the black box: 24 for the distillation \(one per unlabeled image\), 24 for the refit \(one per transformed image T\(x\)\), 24 for the measurements below/);
  assert.match(md, /\| 2 \(refit\) \|/);
  // the budget preset's guard checked the refitted surrogate too, before the refit's epochs
  assert.type(report.blackBox!.refit!.guard, 'string');
  assert.match(md, /with the augmentation guard checked again on the refitted surrogate: /);
  assert.equal(cfg.refit, { refineEpochs: 1, distillEpochs: 4, distillLr: 0.02 });
  // the folder's classifier file is the surrogate: refused as a white-box defended model
  assert.throws(() => loadDefended(out), /defends the black box at .*loadBlackBoxDefense/);
  // loaded from the folder alone, the deployed defense gives the accuracy the report measured
  const { defense, config } = loadBlackBoxDefense(out);
  assert.equal(config.classes, classes);
  const pred = await defense.predict(testSet);
  const acc = pred.reduce((s, p, i) => s + (p === testSet.labels[i] ? 1 : 0), 0) / testSet.n;
  assert.is(acc, report.after.test!.accuracy);
  assert.is(defense.blackBox.queries, 12);
  defense.unet.dispose();
  // a rerun reports the finished folder and sends nothing; another endpoint is refused
  answered = 0;
  const again = await defendBlackBox(base(out));
  assert.equal(again.blackBox, report.blackBox);
  assert.is(answered, 0);
  await rejects(defendBlackBox({ ...base(out), endpoint: { ...base(out).endpoint, url: `${url}2` } }), /another model or configuration/);
  await rejects(defendBlackBox({ ...base(out), refit: null }), /another model or configuration/);
});

test('defendBlackBox: killed while the refit queries T(x), resumed without asking again', async () => {
  const out = join(tmp, 'refit-killed');
  answered = 0;
  // 24 answers for the distillation, then one chunk of 8 transformed images; the next chunk fails
  failAfter = 24 + 8;
  await rejects(defendBlackBox(base(out)), /HTTP 500/);
  assert.is(readFileSync(join(out, 'train', 'teacher-T.f32')).byteLength, 8 * 4 * 4);
  failAfter = Infinity;
  answered = 0;
  const report = await defendBlackBox(base(out));
  assert.is(answered, 16 + 24, 'the 16 transformed images left, then the measurements');
  assert.is(report.blackBox!.refit!.queries, 24);
});

test('defendBlackBox with the refit off (the paper\'s setting): no query on T(x), none recorded', async () => {
  const out = join(tmp, 'no-refit');
  answered = 0;
  const report = await defendBlackBox({ ...base(out), refit: null });
  assert.is(answered, 24 + 24);
  assert.is(report.blackBox!.refit, undefined);
  assert.is((JSON.parse(readFileSync(join(out, 'defense.json'), 'utf8')) as DefenseConfig).refit, undefined);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /24 for the distillation \(one per unlabeled image\), 24 for the measurements/);
});

test('defendBlackBox: a budget the run would exceed is refused before anything is sent; renormalize off is refused', async () => {
  const out = join(tmp, 'budget');
  answered = 0;
  // 24 unlabeled images twice (distillation, refit) and 12 test images twice (before, after)
  await rejects(defendBlackBox({ ...base(out), budget: 71 }), /the query budget of 71 images is below the 72 this run needs \(24 for the distillation, 24 for the refit, 24 for the measurements\): raise --blackbox-budget, turn the refit off \(--blackbox-refit off\) or measure on fewer images/);
  assert.is(answered, 0, 'nothing sent');
  assert.not.ok(existsSync(join(out, 'train')));
  await rejects(defendBlackBox({ ...base(out), budget: 23, refit: null, test: undefined }), /the query budget of 23 images is below the 24 this run needs \(24 for the distillation\): raise --blackbox-budget$/);
  assert.is(answered, 0);
  await rejects(defendBlackBox({ ...base(join(tmp, 'plain')), refine: { ...base(out).refine, renormalize: false } }), /needs renormalize on/);
  server.close();
  model.dispose();
});

test.run();
