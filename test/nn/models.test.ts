import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, rt, scope, tensor } from '../../src/index.js';
import * as ops from '../../src/ops/all.js';
import { ResNet18, ResNet50 } from '../../src/nn/resnet.js';
import { UNet } from '../../src/nn/unet.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/nn/checkpoint.js';
import { readSafetensors } from '../../src/nn/safetensors.js';
import { assertClose, randArray } from '../helpers.js';

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

test('ResNet-50 (CIFAR, bottleneck [3, 4, 6, 3]) has 23,520,842 parameters and PyTorch names; ImageNet stem 23,528,522; ×0.25 1,484,186', () => {
  const m = new ResNet50({ numClasses: 10 });
  assert.is(m.parameterCount(), 23520842); // BackdoorBox core.models.ResNet(50), counted in PyTorch
  const names = new Map([...m.stateDict()].map(([n, t]) => [n, t.shape]));
  assert.equal(names.get('layer1.0.shortcut.0.weight'), [1, 1, 64, 256]);
  assert.equal(names.get('layer3.5.conv2.weight'), [3, 3, 256, 256]);
  assert.ok(names.has('layer4.2.bn3.running_var') && !names.has('layer4.3.conv1.weight'));
  assert.equal(names.get('linear.weight'), [10, 2048]);
  m.dispose();
  for (const [opts, n] of [[{ stem: 'imagenet' as const }, 23528522], [{ width: 0.25 }, 1484186]] as const) {
    const r = new ResNet50({ numClasses: 10, ...opts });
    assert.is(r.parameterCount(), n, JSON.stringify(opts));
    r.dispose();
  }
  const small = new ResNet50({ numClasses: 3, width: 0.125, inChannels: 1 }).eval();
  const y = scope(() => small.forward(tensor(new Float32Array(2 * 28 * 28), [2, 28, 28, 1])));
  assert.equal([...y.shape], [2, 3]);
  y.dispose();
  small.dispose();
});

test('UNet parameter counts match the official UNetLittle for c = 32, 48, 64, 80', () => {
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
  assert.throws(() => loadCheckpoint(c, file), /linear\.weight: found \[10,64\], the model expects \[5,64\]/);
  const u = new UNet({ firstChannels: 4 });
  assert.throws(() => loadCheckpoint(u, file), /missing inc\.double_conv\.0\.weight \[4,3,3,3\]/);
  writeFileSync(join(tmp, 'bad.safetensors'), Buffer.from([1, 2, 3]));
  assert.throws(() => loadCheckpoint(u, join(tmp, 'bad.safetensors')), /not a safetensors file/);
  for (const m of [a, b, c, u]) m.dispose();
  x.dispose();
  ya!.dispose();
  yb!.dispose();
});

test('eval-mode conv+BN folding (convBN) equals conv then BN: values and gradients of x, w, γ', async () => {
  const { BatchNorm2d, Conv2d, Init, convBN } = await import('../../src/nn/layers.js');
  const { backward } = await import('../../src/index.js');
  const { bumpWeightsVersion } = await import('../../src/nn/module.js');
  for (const [c, co, stride, bias] of [[3, 16, 1, false], [16, 32, 2, true], [16, 16, 1, true]] as const) {
    const conv = new Conv2d(c, co, 3, new Init(c), { stride, padding: 1, bias });
    const bn = new BatchNorm2d(co);
    // non-trivial statistics and affine parameters
    for (const [t, lo, hi] of [[bn.runningMean, -0.5, 0.5], [bn.runningVar, 0.2, 2], [bn.weight, 0.5, 1.5], [bn.bias, -0.3, 0.3]] as const) rt().write(t.buffer, Float32Array.from(randArray(co, undefined, lo, hi)));
    bn.eval();
    const xd = Float32Array.from(randArray(2 * 7 * 9 * c));
    const run = async (folded: boolean) => {
      const x = tensor(xd, [2, 7, 9, c]);
      x.requiresGrad = true;
      const y = scope(() => (folded ? convBN(conv, bn, x) : bn.forward(conv.forward(x))));
      const yv = await y.read();
      const loss = scope(() => ops.sum(ops.mul(y, y)));
      backward(loss);
      const grads = await Promise.all([x, conv.weight, bn.weight].map((t) => t.grad!.read()));
      for (const t of [x, conv.weight, bn.weight, bn.bias, conv.bias]) {
        t?.grad?.dispose();
        if (t) t.grad = null;
      }
      for (const t of [x, y, loss]) t.dispose();
      return [yv, ...grads];
    };
    const [a, b] = [await run(true), await run(false)];
    ['y', 'dx', 'dw', 'dγ'].forEach((what, i) => assertClose(a[i]!, b[i]!, `convBN ${what} (Cin ${c})`, 1e-4, 1e-3));
    // frozen pair: cached folded weights, gradient to x only; refreshed when the weights version changes
    conv.freeze();
    bn.freeze();
    const frozenRun = async () => {
      const x = tensor(xd, [2, 7, 9, c]);
      x.requiresGrad = true;
      const y = scope(() => convBN(conv, bn, x));
      const ref = scope(() => noGrad(() => bn.forward(conv.forward(x))));
      const loss = scope(() => ops.sum(ops.mul(y, y)));
      backward(loss);
      const out = { y: await y.read(), ref: await ref.read(), dx: await x.grad!.read() };
      for (const t of [x.grad!, x, y, ref, loss]) t.dispose();
      return out;
    };
    const f1 = await frozenRun();
    assertClose(f1.y, f1.ref, 'frozen convBN y', 1e-4, 1e-3);
    assertClose(f1.dx, a[1]!, 'frozen convBN dx', 1e-4, 1e-3);
    assert.ok(bn.folded !== null, 'folded weights cached');
    rt().write(bn.runningMean.buffer, Float32Array.from(randArray(co, undefined, -2, 2)));
    bumpWeightsVersion();
    const f2 = await frozenRun();
    assertClose(f2.y, f2.ref, 'frozen convBN y after a weights change', 1e-4, 1e-3);
    conv.dispose();
    bn.dispose();
  }
});

test('models free all their memory', () => {
  const before = rt().stats().bytesInUse;
  const m = new UNet({ firstChannels: 8 });
  m.dispose();
  assert.is(rt().stats().bytesInUse, before);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
