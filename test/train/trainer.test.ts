import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResNet18 } from '../../src/nn/resnet.js';
import { trainClassifier, lrAt, type TrainConfig } from '../../src/train/trainer.js';
import type { ImageDataset } from '../../src/data/dataset.js';
import { Rng } from '../../src/util/random.js';

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
  assert.equal(a.w, b.w, 'bit-identical weights');
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
  assert.equal(await weights(resumed), await weights(straight), 'bit-identical to the uninterrupted run');
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

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
