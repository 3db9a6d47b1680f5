import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, rt, scope, tensor } from '../../src/index.js';
import * as ops from '../../src/ops/all.js';
import { ResNet18 } from '../../src/nn/resnet.js';
import { UNet } from '../../src/nn/unet.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/nn/checkpoint.js';
import { readSafetensors } from '../../src/nn/safetensors.js';
import { randArray } from '../helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'refine-models-'));

test('ResNet-18 (CIFAR) has 11,173,962 parameters and PyTorch names', () => {
  const m = new ResNet18({ numClasses: 10 });
  assert.is(m.parameterCount(), 11173962);
  const names = new Map([...m.stateDict()].map(([n, t]) => [n, t.shape]));
  assert.equal(names.get('layer2.0.shortcut.0.weight'), [1, 1, 64, 128]); // HWIO inside
  assert.ok(names.has('layer4.1.bn2.running_var'));
  assert.ok(names.has('linear.weight'));
  m.dispose();
});

test('UNet parameter counts match the spec for c = 32, 48, 64, 80', () => {
  for (const [c, n] of [[32, 4320675], [48, 9715827], [64, 17267523], [80, 26975763]] as const) {
    const u = new UNet({ firstChannels: c });
    assert.is(u.parameterCount(), n, `c = ${c}`);
    u.dispose();
  }
});

test('forward shapes: ResNet-18 (both stems, grey input) and UNet (odd sizes)', () => {
  scope(() =>
    noGrad(() => {
      const r = new ResNet18({ numClasses: 7, width: 0.125, inChannels: 1 }).eval();
      assert.equal(r.forward(tensor(Float32Array.from(randArray(2 * 28 * 28)), [2, 28, 28, 1])).shape, [2, 7]);
      r.dispose();
      const q = new ResNet18({ numClasses: 5, width: 0.125, stem: 'imagenet' }).eval();
      assert.equal(q.forward(ops.zeros([1, 64, 64, 3])).shape, [1, 5]);
      assert.ok([...q.stateDict().keys()].includes('layer3.0.downsample.0.weight'));
      q.dispose();
      const u = new UNet({ firstChannels: 4, channels: 1 }).eval();
      assert.equal(u.forward(ops.zeros([2, 28, 28, 1])).shape, [2, 28, 28, 1]);
      assert.equal(u.forward(ops.zeros([1, 32, 32, 1])).shape, [1, 32, 32, 1]);
      u.dispose();
    }),
  );
});

test('checkpoint round trip: safetensors with OIHW conv weights, shape/name checks', async () => {
  const a = new ResNet18({ numClasses: 10, width: 0.125, seed: 1 }).eval();
  const b = new ResNet18({ numClasses: 10, width: 0.125, seed: 2 }).eval();
  const file = join(tmp, 'r.safetensors');
  await saveCheckpoint(a, file, { note: 'test' });
  const { tensors, metadata } = readSafetensors(file);
  assert.equal(tensors.get('conv1.weight')!.shape, [8, 3, 3, 3]); // OIHW for PyTorch
  assert.equal(tensors.get('bn1.num_batches_tracked')!.dtype, 'I64');
  assert.is(metadata.note, 'test');
  assert.is(loadCheckpoint(b, file).format, 'pt');
  const x = tensor(Float32Array.from(randArray(2 * 32 * 32 * 3)), [2, 32, 32, 3]);
  const [ya, yb] = scope(() => noGrad(() => [a.forward(x), b.forward(x)]));
  assert.equal(Array.from(await ya!.read()), Array.from(await yb!.read()));
  const c = new ResNet18({ numClasses: 5, width: 0.125 });
  assert.throws(() => loadCheckpoint(c, file), /linear\.weight is F32 \[10,64\], the model expects F32 \[5,64\]/);
  const u = new UNet({ firstChannels: 4 });
  assert.throws(() => loadCheckpoint(u, file), /missing \d+ tensor/);
  writeFileSync(join(tmp, 'bad.safetensors'), Buffer.from([1, 2, 3]));
  assert.throws(() => loadCheckpoint(u, join(tmp, 'bad.safetensors')), /not a safetensors file/);
  for (const m of [a, b, c, u]) m.dispose();
  x.dispose();
  ya!.dispose();
  yb!.dispose();
});

test('models free all their memory', () => {
  const before = rt().stats().bytesInUse;
  const m = new UNet({ firstChannels: 8 });
  m.dispose();
  assert.is(rt().stats().bytesInUse, before);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
