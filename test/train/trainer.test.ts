import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResNet18 } from '../../src/nn/resnet.js';
import { trainClassifier, type TrainConfig } from '../../src/train/trainer.js';
import { lrAt, ONE_CYCLE_DEFAULTS, oneCycleAt, SGD } from '../../src/nn/optim.js';
import type { ImageDataset } from '../../src/data/dataset.js';
import { Rng } from '../../src/util/random.js';
import type { Image } from '../../src/data/augment.js';
import { DivergedError, loadRunState, saveRunState } from '../../src/train/resume.js';

const tmp = mkdtempSync(join(tmpdir(), 'refine-train-'));

/** 16×16 grey images: class = which quadrant holds a bright square (a learnable problem) */
function quadrants(n: number, seed: number): ImageDataset {
  const r = new Rng(seed);
  const images = new Uint8Array(n * 256);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = r.int(4);
    labels[i] = c;
    for (let p = 0; p < 256; p++) images[i * 256 + p] = r.int(60);
    const [y0, x0] = [(c >> 1) * 8 + 2, (c & 1) * 8 + 2];
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) images[i * 256 + (y0 + y) * 16 + x0 + x] = 230;
  }
  return { name: 'quadrants', images, labels, n, h: 16, w: 16, c: 1, classes: ['a', 'b', 'c', 'd'] };
}

const cfg: TrainConfig = { epochs: 2, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 5e-4, milestones: [1], gamma: 0.1, augment: { flip: 0.5 }, seed: 9 };
const data = { train: quadrants(96, 1), test: quadrants(48, 2) };
const norm = { mean: [0.3], std: [0.3] };

async function weights(m: ResNet18): Promise<number[]> {
  const out: number[] = [];
  for (const p of m.parameters()) out.push(...(await p.read()));
  return out;
}

/** Bit-identical numbers (the first difference in the message: uvu's diff of 10⁵ numbers takes minutes). */
function assertSame(x: number[], y: number[], what: string): void {
  const i = x.findIndex((v, k) => !Object.is(v, y[k]));
  assert.ok(x.length === y.length && i < 0, `${what}: ${x.length} vs ${y.length} numbers, first difference at ${i}: ${x[i]} vs ${y[i]}`);
}

async function assertSameWeights(a: ResNet18, b: ResNet18, what: string): Promise<void> {
  assertSame(await weights(a), await weights(b), what);
}

test('the multi-step schedule', () => {
  assert.equal([0, 1, 2, 3].map((e) => lrAt({ lr: 1, milestones: [1, 3], gamma: 0.5 }, e)), [1, 0.5, 0.5, 0.25]);
});

test('same seed twice gives the same model and accuracy; it learns', async () => {
  const run = async () => {
    const m = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.125, seed: 3 });
    const r = await trainClassifier(m, data, cfg, { normalization: norm, quiet: true });
    const w = await weights(m);
    m.dispose();
    return { r, w };
  };
  const a = await run();
  const b = await run();
  assertSame(a.w, b.w, 'bit-identical weights');
  assert.is(a.r.testAccuracy, b.r.testAccuracy);
  assert.ok(a.r.history[1]!.loss < a.r.history[0]!.loss, `loss went down: ${a.r.history.map((h) => h.loss)}`);
});

test('a run killed after epoch 1 and resumed ends exactly where an uninterrupted run ends', async () => {
  const fresh = () => new ResNet18({ numClasses: 4, inChannels: 1, width: 0.125, seed: 4 });
  const straight = fresh();
  await trainClassifier(straight, data, cfg, { normalization: norm, quiet: true });
  const dir = join(tmp, 'resume');
  const killed = fresh();
  let err: Error | null = null;
  try {
    await trainClassifier(killed, data, cfg, {
      normalization: norm,
      outDir: dir,
      quiet: true,
      onEpochEnd: (log) => {
        if (log.epoch === 1) throw new Error('killed');
      },
    });
  } catch (e) {
    err = e as Error;
  }
  assert.is(err?.message, 'killed');
  killed.dispose();
  // a new process: a freshly initialised model, the same command
  const resumed = fresh();
  const r = await trainClassifier(resumed, data, cfg, { normalization: norm, outDir: dir, quiet: true });
  assert.is(r.resumedFromEpoch, 1);
  assert.is(r.resumedAt, 'epoch 1/2');
  await assertSameWeights(resumed, straight, 'bit-identical to the uninterrupted run');
  // another configuration in the same folder is refused
  const other = fresh();
  try {
    await trainClassifier(other, data, { ...cfg, lr: 0.01 }, { normalization: norm, outDir: dir, quiet: true });
    assert.unreachable('should refuse');
  } catch (e) {
    assert.match((e as Error).message, /another configuration/);
  }
  other.dispose();
  resumed.dispose();
  straight.dispose();
});

test('a run killed inside an epoch resumes from its last step checkpoint, bit-identical, random draws replayed', async () => {
  const fresh = () => new ResNet18({ numClasses: 4, inChannels: 1, width: 0.125, seed: 5 });
  // a random per-sample transform (like PhysicalBA's): the skipped batches' draws must be replayed
  const sampleTransform = (img: Image, _i: number, rng: Rng): Image => (rng.next() < 0.5 ? { ...img, data: img.data.map((v) => 255 - v) } : img);
  const straight = fresh();
  const want = await trainClassifier(straight, data, cfg, { normalization: norm, quiet: true, sampleTransform });
  const dir = join(tmp, 'resume-mid');
  const killed = fresh();
  const saved: string[] = [];
  try {
    await trainClassifier(killed, data, cfg, {
      normalization: norm,
      outDir: dir,
      quiet: true,
      sampleTransform,
      checkpointSeconds: 0, // after every step
      onCheckpoint: (epoch, steps) => {
        saved.push(`${epoch}:${steps}`);
        if (epoch === 1 && steps === 2) throw new Error('killed');
      },
    });
    assert.unreachable('should have been killed');
  } catch (e) {
    assert.is((e as Error).message, 'killed');
  }
  killed.dispose();
  // checkpoints after steps 1-5 of each 6-step epoch (step 6 is the epoch's own checkpoint)
  assert.equal(saved, ['0:1', '0:2', '0:3', '0:4', '0:5', '1:1', '1:2']);
  const resumed = fresh();
  const r = await trainClassifier(resumed, data, cfg, { normalization: norm, outDir: dir, quiet: true, sampleTransform, checkpointSeconds: Infinity });
  assert.is(r.resumedFromEpoch, 1);
  // the checkpoint after step 2 of epoch 2 is what it picked up (the attack table prints this)
  assert.is(r.resumedAt, 'epoch 1/2 and 2 steps of the next');
  await assertSameWeights(resumed, straight, 'bit-identical to the uninterrupted run');
  // the batch-norm running statistics (not parameters) too: the test accuracy is measured with them
  assert.equal(r.history.map((h) => [h.loss, h.trainAccuracy, h.testAccuracy]), want.history.map((h) => [h.loss, h.trainAccuracy, h.testAccuracy]));
  resumed.dispose();
  straight.dispose();
});

test('a checkpoint interrupted while being written: uncommitted is dropped, committed is completed', async () => {
  const dir = join(tmp, 'journal');
  mkdirSync(dir, { recursive: true });
  const files = { model: 'm.safetensors', optimizer: 'o.safetensors', state: 's.json' };
  const model = (seed: number) => new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed });
  const a = model(1);
  const b = model(2);
  const opt = new SGD(a.parameters(), { lr: 0.1, momentum: 0.9 });
  await saveRunState(dir, files, a, opt, { n: 1 });
  // a save of b that died after its model file: no state.new, so the old checkpoint stays
  const optB = new SGD(b.parameters(), { lr: 0.1, momentum: 0.9 });
  mkdirSync(join(tmp, 'journal-b'));
  await saveRunState(join(tmp, 'journal-b'), files, b, optB, { n: 2 });
  copyFileSync(join(tmp, 'journal-b', files.model), join(dir, `${files.model}.new`));
  const c = model(3);
  const optC = new SGD(c.parameters(), { lr: 0.1, momentum: 0.9 });
  assert.equal(loadRunState(dir, files, c, optC)?.state, { n: 1 });
  await assertSameWeights(c, a, 'the old checkpoint');
  assert.not.ok(existsSync(join(dir, `${files.model}.new`)), 'the uncommitted file is removed');
  // a save of b that died after its commit point (state.new written) but before the renames
  for (const f of [files.model, files.optimizer, files.state]) copyFileSync(join(tmp, 'journal-b', f), join(dir, `${f}.new`));
  renameSync(join(dir, `${files.model}.new`), join(dir, files.model)); // one rename had happened
  assert.equal(loadRunState(dir, files, c, optC)?.state, { n: 2 });
  await assertSameWeights(c, b, 'the completed new checkpoint');
  assert.equal(readdirSync(dir).sort(), [files.model, files.optimizer, files.state].sort(), 'no .new file left');
  for (const m of [a, b, c]) m.dispose();
  for (const o of [opt, optB, optC]) o.dispose();
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('oneCycleAt matches PyTorch OneCycleLR (max_lr 0.1, 780 steps, defaults)', () => {
  // torch 1.13: OneCycleLR(SGD(lr=0.1, momentum=0.9), max_lr=0.1, total_steps=780), read before each step
  const ref: [number, number, number][] = [
    [0, 0.004, 0.95],
    [1, 0.004004363073865952, 0.9499954551313896],
    [100, 0.04140915328870464, 0.9110321319909327],
    [233, 0.1, 0.85],
    [234, 0.0999991723408259, 0.8500008276624847],
    [500, 0.05172600004525762, 0.8982741930515146],
    [779, 4e-7, 0.95],
  ];
  for (const [t, lr, m] of ref) {
    const s = oneCycleAt(ONE_CYCLE_DEFAULTS, 0.1, t, 780, 0.9);
    assert.ok(Math.abs(s.lr - lr) < 1e-12 && Math.abs(s.momentum - m) < 1e-12, `step ${t}: ${s.lr}/${s.momentum} vs ${lr}/${m}`);
  }
  assert.is(oneCycleAt({ ...ONE_CYCLE_DEFAULTS, cycleMomentum: false }, 0.1, 500, 780, 0.9).momentum, 0.9);
  assert.throws(() => oneCycleAt(ONE_CYCLE_DEFAULTS, 0.1, 0, 1, 0.9), /total steps/);
});

test('a diverging run (lr 1e30) stops with DivergedError before saving anything', async () => {
  const out = join(tmp, 'diverge');
  const m = new ResNet18({ numClasses: 4, inChannels: 1, width: 0.0625, seed: 3 });
  let err: Error | null = null;
  try {
    await trainClassifier(m, data, { ...cfg, lr: 1e30, milestones: [] }, { normalization: norm, outDir: out, quiet: true, checkpointSeconds: Infinity });
  } catch (e) {
    err = e as Error;
  }
  assert.ok(err instanceof DivergedError, `expected DivergedError, got ${err?.message}`);
  assert.match(err!.message, /train epoch 1: the loss is (NaN|Infinity|-Infinity): training diverged and was stopped; the last good checkpoint in .* is kept/);
  assert.not.ok(existsSync(join(out, 'last.safetensors')), 'no diverged weights were saved');
  m.dispose();
});

test.run();
