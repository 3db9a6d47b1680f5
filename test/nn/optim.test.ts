import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { keep, tensor } from '../../src/index.js';
import { Adam, MultiStepLR, SGD } from '../../src/nn/optim.js';
import { assertClose, randArray } from '../helpers.js';

const N = 37; // not a multiple of the workgroup size

function param(data: Float64Array) {
  const p = keep(tensor(Float32Array.from(data), [N]));
  p.requiresGrad = true;
  return p;
}

/** A gradient with every fifth entry zero: there only the weight decay moves the parameter. */
function gradient(): Float64Array {
  return randArray(N).map((v, i) => (i % 5 === 0 ? 0 : v));
}

// weight decay 0.1 as well as the usual 5e-4: large enough that a missing or decoupled decay fails
test('SGD with momentum and weight decay matches the PyTorch update rule', async () => {
  for (const [momentum, wd] of [[0, 5e-4], [0.9, 5e-4], [0, 0.1], [0.9, 0.1]] as const) {
    const p0 = randArray(N);
    const p = param(p0);
    const opt = new SGD([p], { lr: 0.05, momentum, weightDecay: wd });
    const ref = Float64Array.from(p0);
    const buf = new Float64Array(N);
    for (let step = 0; step < 4; step++) {
      const g = gradient();
      p.grad = keep(tensor(Float32Array.from(g), [N]));
      opt.step();
      for (let i = 0; i < N; i++) {
        const gi = g[i]! + wd * ref[i]!;
        buf[i] = step === 0 ? gi : momentum * buf[i]! + gi;
        ref[i]! -= 0.05 * (momentum > 0 ? buf[i]! : gi);
      }
      opt.zeroGrad();
    }
    assertClose(await p.read(), ref, `sgd momentum ${momentum} weight decay ${wd}`, 1e-5, 1e-4);
    opt.dispose();
    p.dispose();
  }
});

test('Adam matches the PyTorch update rule (L2 decay added to the gradient, not AdamW\'s)', async () => {
  for (const wd of [1e-3, 0.1]) {
    const p0 = randArray(N);
    const p = param(p0);
    const opt = new Adam([p], { lr: 0.01, weightDecay: wd });
    const ref = Float64Array.from(p0);
    const m = new Float64Array(N);
    const v = new Float64Array(N);
    for (let t = 1; t <= 5; t++) {
      const g = gradient();
      p.grad = keep(tensor(Float32Array.from(g), [N]));
      opt.step();
      for (let i = 0; i < N; i++) {
        const gi = g[i]! + wd * ref[i]!;
        m[i] = 0.9 * m[i]! + 0.1 * gi;
        v[i] = 0.999 * v[i]! + 0.001 * gi * gi;
        const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - 0.999 ** t) + 1e-8;
        ref[i]! -= (0.01 / (1 - 0.9 ** t)) * (m[i]! / denom);
      }
      opt.zeroGrad();
    }
    assertClose(await p.read(), ref, `adam weight decay ${wd}`, 1e-5, 1e-4);
    opt.dispose();
    p.dispose();
  }
});

test('MultiStepLR decays at the milestones', () => {
  const p = param(randArray(N));
  const opt = new SGD([p], { lr: 0.1 });
  const sched = new MultiStepLR(opt, [2, 4], 0.1);
  const lrs: number[] = [opt.lr];
  for (let e = 0; e < 5; e++) {
    sched.step();
    lrs.push(opt.lr);
  }
  const expect = [0.1, 0.1, 0.01, 0.01, 0.001, 0.001];
  lrs.forEach((lr, i) => assert.ok(Math.abs(lr - expect[i]!) < 1e-12, `epoch ${i}: lr ${lr}, expected ${expect[i]}`));
  opt.dispose();
  p.dispose();
});

test('optimizer rejects parameters that do not require grad', () => {
  const t = keep(tensor([1, 2, 3]));
  assert.throws(() => new SGD([t], { lr: 0.1 }), /does not require grad/);
  t.dispose();
});

test.run();
