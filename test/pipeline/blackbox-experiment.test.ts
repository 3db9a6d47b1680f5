/**
 * The black-box experiment (Table 11) end to end on tiny data: a ResNet-50 black box of the same
 * attack, its answers queried once (kept in teacher.f32), a distilled ResNet-18 surrogate, REFINE
 * against it deployed in front of the black box, the queries counted, the augmentation guard's
 * checks run on the surrogate, a rerun reported without recomputing, a rerun with another REFINE
 * configuration that keeps the answers and the surrogate, the refit added to a finished run (the
 * guard run again on the refitted surrogate; another refit keeps the answers on T(x)), and the
 * section rendered.
 */
import { test } from 'uvu';
import { tinyReproduce } from './tiny.js';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blackBoxExperiment, readBlackBoxResults, renderBlackBoxSection } from '../../src/pipeline/blackbox-experiment.js';

const tmp = mkdtempSync(join(tmpdir(), 'blackbox-'));
const tiny = tinyReproduce(tmp);
const data = tiny.data;
const opts = { ...tiny.opts, refine: { ...tiny.opts.refine, augmentationGuard: true } };

test('black-box REFINE on tiny data: every row, the queries, resumable, rendered', async () => {
  const r = await blackBoxExperiment(opts, data, { distillEpochs: 1 });
  assert.is(r.status, 'complete');
  for (const m of [r.noDefenseBlackBox!, r.noDefenseSurrogate!, r.refineSurrogate!, r.refineBlackBox!]) assert.ok(m.BA >= 0 && m.BA <= 1 && m.ASR >= 0 && m.ASR <= 1);
  assert.is(r.queries.distill, 16, 'one query per unlabeled image');
  assert.ok(r.queries.evaluation! >= 20, `evaluation queries ${r.queries.evaluation}`);
  assert.ok(r.blackBoxDir!.startsWith(join(tmp, 'runs')) && existsSync(join(r.blackBoxDir!, 'model.safetensors')));
  const dir = join(tmp, 'results', 'badnets', 'blackbox');
  assert.is(readFileSync(join(dir, 'teacher.f32')).length, 16 * 4 * 4);
  const before = readFileSync(join(dir, 'blackbox.json'), 'utf8');
  assert.equal(await blackBoxExperiment(opts, data, { distillEpochs: 1 }), r);
  assert.is(readFileSync(join(dir, 'blackbox.json'), 'utf8'), before);
  const md = renderBlackBoxSection(readBlackBoxResults(opts.outRoot, ['badnets']));
  assert.match(md, /## Black-box REFINE \(Table 11\)/);
  assert.match(md, /\| BadNets \| \d+\.\d\d\/\d+\.\d\d \|.* \| — \| 16 \| \d+ \| (not needed|pseudo-labels from the un-augmented images.*) \|/);
  // the guard checked the surrogate: both probes, 16 unlabeled images each
  assert.is(r.guard!.checks.augmentation.images, 16);
  assert.is(r.guard!.checks.photometric!.images, 16);
  assert.is(r.guard!.checks.rotation!.images, 16);
  assert.type(r.guard!.decision.crop, 'boolean');
});

test('black-box REFINE rerun with another REFINE configuration: the answers and the surrogate are kept, REFINE runs again', async () => {
  const dir = join(tmp, 'results', 'badnets', 'blackbox');
  const first = JSON.parse(readFileSync(join(dir, 'blackbox.json'), 'utf8'));
  const teacherTime = statSync(join(dir, 'teacher.f32')).mtimeMs;
  const distillState = readFileSync(join(dir, 'distill', 'distill-state.json'), 'utf8');
  const other = { ...opts, refine: { ...opts.refine, lambda: 0.5 } };
  const r = await blackBoxExperiment(other, data, { distillEpochs: 1 });
  assert.is(r.status, 'complete');
  assert.is.not(r.configHash, first.configHash);
  assert.is(r.surrogateHash, first.surrogateHash);
  assert.is(statSync(join(dir, 'teacher.f32')).mtimeMs, teacherTime, 'the black box is not queried again');
  assert.is(readFileSync(join(dir, 'distill', 'distill-state.json'), 'utf8'), distillState, 'the surrogate is not distilled again');
  assert.equal([r.queries.distill, r.noDefenseBlackBox, r.noDefenseSurrogate], [first.queries.distill, first.noDefenseBlackBox, first.noDefenseSurrogate]);
  assert.ok(r.refineBlackBox && r.queries.evaluation! >= 20);
  assert.ok(r.wallSeconds.refine! > 0 && r.wallSeconds.distill! > 0);
  // a changed distillation is another surrogate: refused rather than mixed
  await blackBoxExperiment(other, data, { distillEpochs: 2 }).then(
    () => assert.unreachable('a changed distillation was accepted'),
    (e: Error) => assert.match(e.message, /holds a black-box run of another configuration/),
  );
});

test('black-box refit on a finished run: the paper\'s rows kept, T(x) queried once, REFINE continued, both rendered', async () => {
  const dir = join(tmp, 'results', 'badnets', 'blackbox');
  const other = { ...opts, refine: { ...opts.refine, lambda: 0.5 } };
  const first = JSON.parse(readFileSync(join(dir, 'blackbox.json'), 'utf8'));
  const refit = { refineEpochs: 1, distillEpochs: 1, distillLr: 0.02 };
  const r = await blackBoxExperiment(other, data, { distillEpochs: 1, refit });
  assert.equal({ ...r, refit: undefined }, { ...first, refit: undefined }, 'the paper\'s rows are not run again');
  const f = r.refit!;
  assert.is(f.status, 'complete');
  assert.equal(f.config, refit);
  assert.is(f.queries.transformed, 16, 'one query per T(x)');
  assert.ok(f.queries.evaluation! >= 20);
  for (const m of [f.refineSurrogate!, f.refineBlackBox!]) assert.ok(m.BA >= 0 && m.BA <= 1 && m.ASR >= 0 && m.ASR <= 1);
  assert.ok(f.agreementBefore! >= 0 && f.agreementAfter! <= 1);
  assert.is(readFileSync(join(dir, 'refit', 'teacher-T.f32')).length, 16 * 4 * 4);
  assert.ok(existsSync(join(dir, 'refit', 'refine', 'unet-last.safetensors')) && existsSync(join(dir, 'refit', 'distill', 'surrogate-last.safetensors')));
  // a rerun reports it; without the refit the record stays
  const answered = statSync(join(dir, 'refit', 'teacher-T.f32')).mtimeMs;
  assert.equal(await blackBoxExperiment(other, data, { distillEpochs: 1, refit }), r);
  assert.equal(await blackBoxExperiment(other, data, { distillEpochs: 1 }), r);
  // the guard ran again on the refitted surrogate (no queries), its decision joined the first stage's
  assert.is(f.guard!.checks.augmentation.images, 16);
  assert.is(f.guard!.checks.photometric!.images, 16);
  for (const k of ['crop', 'photometric', 'rotation'] as const) if (r.guard!.decision[k]) assert.ok(f.guard!.decision[k], `the first stage's ${k} remedy kept`);
  // a refit recorded under another hash (an earlier version of the procedure) with the same
  // settings: its answers on T(x) and its distillation are kept, REFINE's epochs run again
  const distilled = readFileSync(join(dir, 'refit', 'distill', 'distill-state.json'), 'utf8');
  const refined = readFileSync(join(dir, 'refit', 'refine', 'refine-state.json'), 'utf8');
  const json = JSON.parse(readFileSync(join(dir, 'blackbox.json'), 'utf8'));
  writeFileSync(join(dir, 'blackbox.json'), JSON.stringify({ ...json, refit: { ...json.refit, hash: 'earlier' } }));
  const rerun = await blackBoxExperiment(other, data, { distillEpochs: 1, refit });
  assert.is(rerun.refit!.status, 'complete');
  assert.is(rerun.refit!.hash, f.hash);
  assert.is(rerun.refit!.queries.transformed, 16);
  assert.is.not(readFileSync(join(dir, 'refit', 'refine', 'refine-state.json'), 'utf8'), refined, 'REFINE\'s epochs ran again');
  assert.is(statSync(join(dir, 'refit', 'teacher-T.f32')).mtimeMs, answered, 'T(x) not queried again');
  assert.is(readFileSync(join(dir, 'refit', 'distill', 'distill-state.json'), 'utf8'), distilled, 'the refit distillation is kept');
  // another refit distillation runs the refit again from its distillation
  const again = await blackBoxExperiment(other, data, { distillEpochs: 1, refit: { ...refit, distillEpochs: 2 } });
  assert.is(again.refit!.status, 'complete');
  assert.is.not(again.refit!.hash, f.hash);
  assert.is(statSync(join(dir, 'refit', 'teacher-T.f32')).mtimeMs, answered, 'T(x) not queried again');
  assert.is.not(readFileSync(join(dir, 'refit', 'distill', 'distill-state.json'), 'utf8'), distilled);
  const md = renderBlackBoxSection(readBlackBoxResults(opts.outRoot, ['badnets']));
  assert.match(md, /\| BadNets \|( [^|]+ \|){4} \d+\.\d\d\/\d+\.\d\d \| 16 \+ 16 \| \d+ \+ \d+ \|/);
  assert.match(md, /- BadNets: \d+\.\d% → \d+\.\d%; on the surrogate \d+\.\d\d\/\d+\.\d\d \(2 distillation epochs.*; augmentation guard with the refitted surrogate: /);
});

test.run();
