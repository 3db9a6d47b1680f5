/**
 * The adaptive-attack experiment (Table 4) end to end on tiny data, after the normal experiment:
 * adaptive.json complete with both rows, the adapted model saved, a rerun reports without
 * retraining, another REFINE configuration reuses the adapted model, another attacker's refused,
 * the section rendered.
 */
import { test } from 'uvu';
import { tinyReproduce } from './tiny.js';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reproduceAttack } from '../../src/pipeline/reproduce.js';
import { adaptiveExperiment, readAdaptiveResults, renderAdaptiveSection } from '../../src/pipeline/adaptive-experiment.js';

const tmp = mkdtempSync(join(tmpdir(), 'adaptive-'));
const { data, opts } = tinyReproduce(tmp, { backdoorDir: join(tmp, 'backdoor') });

test('adaptive attack after the normal experiment: both rows, the adapted model, resumable, rendered', async () => {
  const normal = await reproduceAttack(opts, data);
  const a = await adaptiveExperiment(opts, data, normal, { gamma: 1, epochs: 1, lr: 0.01 });
  assert.is(a.status, 'complete');
  assert.is(a.history!.length, 1);
  for (const m of [a.adapted.noDefense!, a.adapted.refine!, a.normal.noDefense, a.normal.refine]) assert.ok(m.BA >= 0 && m.BA <= 1 && m.ASR >= 0 && m.ASR <= 1);
  const dir = join(tmp, 'results', 'badnets', 'adaptive');
  assert.ok(existsSync(join(dir, 'model.safetensors')) && existsSync(join(dir, 'refine', 'unet.safetensors')));
  const file = readFileSync(join(dir, 'adaptive.json'), 'utf8');
  const again = await adaptiveExperiment(opts, data, normal, { gamma: 1, epochs: 1, lr: 0.01 });
  assert.equal(again, a);
  assert.is(readFileSync(join(dir, 'adaptive.json'), 'utf8'), file, 'a complete run is reported, not redone');
  assert.is(a.guard, undefined, 'no guard in this preset');
  // the defender's recipe changes (another normal run, now with the augmentation guard): the
  // attacker's fine-tuning is kept, REFINE redone, the guard's checks run on the adapted model
  const modelTime = statSync(join(dir, 'model.safetensors')).mtimeMs;
  const normal2 = structuredClone(normal);
  normal2.configHash = 'another-normal-run';
  const logs: string[] = [];
  const opts2 = { ...opts, refine: { ...opts.refine, epochs: 2, augmentationGuard: true }, log: (m: string) => logs.push(m) };
  const b = await adaptiveExperiment(opts2, data, normal2, { gamma: 1, epochs: 1, lr: 0.01 });
  assert.is(b.status, 'complete');
  assert.not.equal(b.configHash, a.configHash);
  assert.equal(b.history, a.history, 'the fine-tuning is not redone');
  assert.equal(b.adapted.noDefense, a.adapted.noDefense);
  assert.is(statSync(join(dir, 'model.safetensors')).mtimeMs, modelTime);
  assert.ok(logs.some((m) => /fine-tuned model .* is reused; REFINE on it runs again/.test(m)), logs.join('\n'));
  assert.is(JSON.parse(readFileSync(join(dir, 'refine', 'refine-state.json'), 'utf8')).epochsDone, 2, 'REFINE ran with the new configuration');
  assert.is(b.guard!.checks.augmentation.images, 16);
  assert.ok(b.guard!.checks.photometric && typeof b.guard!.decision.photometric === 'boolean');
  assert.ok(b.guard!.checks.rotation && typeof b.guard!.decision.rotation === 'boolean');
  assert.ok(logs.some((m) => /augmentation guard on the adapted model: /.test(m)), logs.join('\n'));
  try {
    await adaptiveExperiment(opts, data, normal, { gamma: 0.1, epochs: 1, lr: 0.01 });
    assert.unreachable('another configuration in the same folder');
  } catch (e) {
    assert.match((e as Error).message, /holds an adaptive run of another configuration/);
  }
  const md = renderAdaptiveSection(readAdaptiveResults(opts.outRoot, ['badnets', 'wanet']));
  assert.match(md, /## Adaptive attack \(Table 4\)/);
  assert.match(md, /\| BadNets \| 1, 1, 0\.01 \| \d+\.\d\d\/\d+\.\d\d/);
  assert.match(md, /84\.53\/100 \| 83\.05\/0\.98/);
  assert.match(md, /Augmentation guard on the adapted model .*: BadNets (not needed|pseudo-labels from the un-augmented images)/);
});

test.run();
