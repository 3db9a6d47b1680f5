/**
 * The black-box experiment (Table 11) end to end on tiny data: a ResNet-50 black box of the same
 * attack, its answers queried once (kept in teacher.f32), a distilled ResNet-18 surrogate, REFINE
 * against it deployed in front of the black box, the queries counted, a rerun reported without
 * recomputing, and the section rendered.
 */
import { test } from 'uvu';
import { tinyReproduce } from './tiny.js';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blackBoxExperiment, readBlackBoxResults, renderBlackBoxSection } from '../../src/pipeline/blackbox-experiment.js';

const tmp = mkdtempSync(join(tmpdir(), 'blackbox-'));
const { data, opts } = tinyReproduce(tmp);

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
  assert.match(md, /\| badnets \| \d+\.\d\d\/\d+\.\d\d \|.* \| 16 \+ \d+ \|/);
});

test.run();
