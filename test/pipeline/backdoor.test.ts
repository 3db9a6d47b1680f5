import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifierPreset } from '../../src/train/presets.js';
import { trainBackdoored, type BackdoorSpec } from '../../src/pipeline/backdoor.js';
import { synthetic } from '../attacks/synthetic.js';
import { accuracy } from '../../src/train/evaluate.js';

// Runs committed from another machine (results/backdoored/<folder>/): a finished one is reused, an
// unfinished one (per-epoch trainer state) resumes in the output folder instead of restarting.
const tmp = mkdtempSync(join(tmpdir(), 'backdoor-'));
const data = { train: synthetic(48, 12, 12, 1, 1, 4), test: synthetic(24, 12, 12, 1, 2, 4), normalization: { mean: [0.5], std: [0.25] } };
const preset = { ...classifierPreset('quick'), epochs: 2, milestones: [1], width: 0.0625, batchSize: 16 };
const spec = (root: string): BackdoorSpec => ({ attack: 'badnets', dataset: 'synthetic', presetName: 'quick', preset, target: 0, out: join(root, 'attack-badnets') });
const quiet = { quiet: true, log: () => {} };

test('an unfinished committed run resumes from its last epoch and ends where an uninterrupted run ends', async () => {
  const ref = await trainBackdoored(spec(join(tmp, 'ref')), data, { ...quiet, cacheRoots: [] });
  // the ASR is measured after every epoch; the reported one is the last epoch's, and it is the
  // accuracy of the final model on the triggered non-target test images
  assert.ok(ref.summary.history.every((h) => h.evals?.ASR !== undefined && h.evals.ASR >= 0 && h.evals.ASR <= 1), JSON.stringify(ref.summary.history));
  assert.is(ref.summary.ASR, ref.summary.history[1]!.evals!.ASR);
  assert.is(ref.summary.ASR, await accuracy(ref.model, ref.attack.poisonTest(data.test), { normalization: data.normalization }));
  // by class: every non-target class, and the per-class shares weighted by class size give the ASR
  const byClass = ref.summary.asrByClass!;
  const classes = data.test.classes.filter((_, y) => y !== 0);
  assert.equal(Object.keys(byClass), classes);
  const size = (name: string) => data.test.labels.filter((y) => data.test.classes[y] === name).length;
  const weighted = classes.reduce((s, k) => s + byClass[k]! * size(k), 0) / classes.reduce((s, k) => s + size(k), 0);
  assert.ok(Math.abs(weighted - ref.summary.ASR) < 1e-12, `${weighted} vs ${ref.summary.ASR}`);
  // the BA by class: every class (the target's too), and weighted by class size it is the BA
  const baByClass = ref.summary.baByClass!;
  assert.equal(Object.keys(baByClass), data.test.classes);
  const baWeighted = data.test.classes.reduce((s, k) => s + baByClass[k]! * size(k), 0) / data.test.n;
  assert.ok(Math.abs(baWeighted - ref.summary.BA) < 1e-12, `${baWeighted} vs ${ref.summary.BA}`);
  ref.model.dispose();
  // the "committed" run stops after its first epoch
  try {
    await trainBackdoored(spec(join(tmp, 'committed')), data, {
      ...quiet,
      cacheRoots: [],
      onEpochEnd: (l) => {
        if (l.epoch === 1) throw new Error('stop');
      },
    });
    assert.unreachable('the run should have stopped');
  } catch (e) {
    assert.is((e as Error).message, 'stop');
  }
  assert.ok(existsSync(join(tmp, 'committed', 'attack-badnets', 'train-state.json')));
  assert.not.ok(existsSync(join(tmp, 'committed', 'attack-badnets', 'result.json')));
  const logs: string[] = [];
  const run = await trainBackdoored(spec(join(tmp, 'fresh')), data, { quiet: true, log: (m) => logs.push(m), cacheRoots: [join(tmp, 'committed')] });
  run.model.dispose();
  assert.ok(logs.some((m) => m.includes('resuming the unfinished run')), logs.join('\n'));
  assert.is(run.summary.resumedFromEpoch, 1);
  assert.ok(run.summary.resumedAt?.startsWith('epoch 1/'), run.summary.resumedAt);
  assert.is(run.summary.BA, ref.summary.BA);
  assert.is(run.summary.ASR, ref.summary.ASR);
  assert.equal(run.summary.baByClass, ref.summary.baByClass);
  assert.equal(run.summary.history.map((h) => h.loss), ref.summary.history.map((h) => h.loss));
});

test('--lc-init / --benign-dir on an attack without a clean model are refused before any training', async () => {
  const root = join(tmp, 'lc-flags');
  for (const extra of [{ lcInit: 'scratch' as const }, { benignDir: join(root, 'benign') }]) {
    try {
      await trainBackdoored({ ...spec(root), ...extra }, data, quiet);
      assert.unreachable('badnets has no clean model');
    } catch (e) {
      assert.match((e as Error).message, /apply to the Label-Consistent attack .*not to badnets/);
    }
  }
  assert.not.ok(existsSync(join(root, 'attack-badnets')), 'no run folder made');
});

test('a finished committed run is reused without training', async () => {
  const run = await trainBackdoored(spec(join(tmp, 'again')), data, { ...quiet, cacheRoots: [join(tmp, 'ref')] });
  run.model.dispose();
  assert.ok(run.cached);
  assert.is(run.out, join(tmp, 'ref', 'attack-badnets'));
});

// LC's benign model (the PGD target and the backdoored model's starting point) follows the same
// rules: a finished one in a cache root is used as is, an unfinished one resumes
test('LC: a committed benign model is reused, an unfinished one resumes', async () => {
  const lc = (name: string, benignRoot: string): BackdoorSpec => ({
    ...spec(join(tmp, name)),
    attack: 'lc',
    out: join(tmp, name, `attack-lc-${name}`),
    benignDir: join(tmp, benignRoot, 'benign-x'),
    attackOptions: { steps: 2, rate: 0.5 },
  });
  const ref = await trainBackdoored(lc('lc-ref', 'lc-ref'), data, { ...quiet, cacheRoots: [] });
  ref.model.dispose();
  const benignRef = join(tmp, 'lc-ref', 'benign-x');
  assert.ok(existsSync(join(benignRef, 'model.safetensors')));

  const logs: string[] = [];
  const reused = await trainBackdoored(lc('lc-reuse', 'lc-reuse'), data, { quiet: true, log: (m) => logs.push(m), cacheRoots: [join(tmp, 'lc-ref')] });
  reused.model.dispose();
  assert.ok(logs.some((m) => m.includes(`benign model from ${join(benignRef, 'model.safetensors')}`)), logs.join('\n'));
  assert.not.ok(logs.some((m) => m.includes('training the benign model')));
  assert.is(reused.summary.BA, ref.summary.BA);
  assert.is(reused.summary.ASR, ref.summary.ASR);

  // only the trainer's per-epoch state committed (no model.safetensors): copied in and resumed
  const unf = join(tmp, 'lc-unf-root', 'benign-x');
  mkdirSync(unf, { recursive: true });
  for (const f of ['last.safetensors', 'last-optimizer.safetensors', 'train-state.json']) copyFileSync(join(benignRef, f), join(unf, f));
  logs.length = 0;
  const resumed = await trainBackdoored(lc('lc-unf', 'lc-unf'), data, { quiet: true, log: (m) => logs.push(m), cacheRoots: [join(tmp, 'lc-unf-root')] });
  resumed.model.dispose();
  assert.ok(logs.some((m) => m.includes(`resuming the unfinished benign run in ${unf}`)), logs.join('\n'));
  assert.ok(existsSync(join(tmp, 'lc-unf', 'benign-x', 'model.safetensors')));
  assert.is(resumed.summary.BA, ref.summary.BA);
  assert.is(resumed.summary.ASR, ref.summary.ASR);

  // LC's PGD images committed with an unfinished run are copied in and reused, not recomputed
  const cacheRoot = join(tmp, 'lc-cache-root', 'attack-lc-lc-cache');
  mkdirSync(cacheRoot, { recursive: true });
  for (const f of ['lc-adversarial.bin', 'lc-adversarial.json']) copyFileSync(join(tmp, 'lc-ref', 'attack-lc-lc-ref', f), join(cacheRoot, f));
  logs.length = 0;
  const cached = await trainBackdoored(lc('lc-cache', 'lc-ref'), data, { quiet: true, log: (m) => logs.push(m), cacheRoots: [join(tmp, 'lc-cache-root')] });
  cached.model.dispose();
  assert.ok(logs.some((m) => m.includes('attack cache (lc-adversarial.bin, lc-adversarial.json) copied')), logs.join('\n'));
  assert.ok(logs.some((m) => m.includes('LC: reusing the PGD images')), logs.join('\n'));
  assert.is(cached.summary.BA, ref.summary.BA);

  // another recipe (3 epochs) in a folder of another name: the PGD step does not depend on the
  // recipe, so the images of another run of the attack are reused when their key matches
  logs.length = 0;
  const longer = await trainBackdoored({ ...lc('lc-sib', 'lc-ref'), preset: { ...preset, epochs: 3 } }, data, { quiet: true, log: (m) => logs.push(m), cacheRoots: [join(tmp, 'lc-ref')] });
  longer.model.dispose();
  assert.ok(logs.some((m) => m.includes(`reusing the PGD images of ${join(tmp, 'lc-ref', 'attack-lc-lc-ref')}`)), logs.join('\n'));
  assert.not.ok(logs.some((m) => m.startsWith('LC: PGD on')), logs.join('\n'));
  assert.ok(existsSync(join(tmp, 'lc-sib', 'attack-lc-lc-sib', 'lc-adversarial.bin')));
  // other PGD settings: the key differs, the images are computed afresh
  logs.length = 0;
  const other = await trainBackdoored({ ...lc('lc-steps', 'lc-ref'), attackOptions: { steps: 3, rate: 0.5 } }, data, { quiet: true, log: (m) => logs.push(m), cacheRoots: [join(tmp, 'lc-ref')] });
  other.model.dispose();
  assert.ok(logs.some((m) => m.startsWith('LC: PGD on')), logs.join('\n'));
  assert.ok(logs.some((m) => m.includes('with steps 3, rate 0.5')), logs.join('\n'));
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
