/**
 * End to end: a small CNN (conv, batch-norm, ReLU, max-pool, stride-2 conv, global pooling,
 * linear) learns a synthetic 4-class shape problem; then, frozen, it passes gradients to its
 * input only (what REFINE does with the backdoored classifier).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backward, keep, noGrad, rt, scope, tensor, type Tensor } from '../../src/index.js';
import * as ops from '../../src/ops/all.js';
import { Module, Sequential } from '../../src/nn/module.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool, Init, Linear, MaxPool2d, ReLU } from '../../src/nn/layers.js';
import { SGD } from '../../src/nn/optim.js';
import { Rng } from '../../src/util/random.js';

const S = 12;

/** class 0: horizontal bar, 1: vertical bar, 2: diagonal, 3: square ring; random position + noise */
function makeData(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const r = new Rng(seed);
  const x = new Float32Array(n * S * S);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = r.int(4);
    y[i] = c;
    const img = x.subarray(i * S * S, (i + 1) * S * S);
    for (let p = 0; p < S * S; p++) img[p] = r.uniform(-0.3, 0.3);
    const a = 2 + r.int(S - 6);
    const b = 2 + r.int(S - 6);
    const len = 4 + r.int(2);
    for (let k = 0; k < len; k++) {
      if (c === 0) img[a * S + b + k] += 1;
      else if (c === 1) img[(a + k) * S + b] += 1;
      else if (c === 2) img[(a + k) * S + b + k] += 1;
    }
    if (c === 3) for (let u = 0; u < 4; u++) for (let v = 0; v < 4; v++) if (u === 0 || u === 3 || v === 0 || v === 3) img[(a + u) * S + b + v] += 1;
  }
  return { x, y };
}

class SmallCNN extends Module {
  body: Sequential;
  head: Linear;
  constructor(init: Init) {
    super();
    this.body = this.child(
      'body',
      new Sequential(
        new Conv2d(1, 8, 3, init, { padding: 1, bias: false }),
        new BatchNorm2d(8),
        new ReLU(),
        new MaxPool2d(2),
        new Conv2d(8, 16, 3, init, { stride: 2, padding: 1 }),
        new ReLU(),
        new GlobalAvgPool(),
      ),
    );
    this.head = this.child('head', new Linear(16, 4, init));
  }
  forward(x: Tensor): Tensor {
    return this.head.forward(this.body.forward(x));
  }
}

async function accuracy(model: Module, x: Tensor, y: Int32Array): Promise<number> {
  const pred = scope(() => noGrad(() => ops.argmax(model.forward(x))));
  const p = await pred.read();
  pred.dispose();
  let ok = 0;
  for (let i = 0; i < y.length; i++) if (p[i] === y[i]) ok++;
  return ok / y.length;
}

let model: SmallCNN;
let testX: Tensor;
let testY: Int32Array;

test('a small CNN learns a synthetic shape problem', async () => {
  const train = makeData(512, 1);
  const tst = makeData(256, 2);
  model = new SmallCNN(new Init(42));
  testX = keep(tensor(tst.x, [256, S, S, 1]));
  testY = tst.y;
  const before = await accuracy(model.eval(), testX, testY);
  model.train();
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
  const B = 32;
  const order = [...Array(512).keys()];
  const rng = new Rng(5);
  let lastLoss = 0;
  for (let epoch = 0; epoch < 8; epoch++) {
    rng.shuffle(order);
    for (let s = 0; s < 512 / B; s++) {
      const bx = new Float32Array(B * S * S);
      const by = new Int32Array(B);
      for (let k = 0; k < B; k++) {
        const i = order[s * B + k]!;
        bx.set(train.x.subarray(i * S * S, (i + 1) * S * S), k * S * S);
        by[k] = train.y[i]!;
      }
      const loss = scope(() => {
        const l = ops.crossEntropy(model.forward(tensor(bx, [B, S, S, 1])), tensor(by));
        opt.zeroGrad();
        backward(l);
        opt.step();
        return ops.detach(l);
      });
      if (s === 0) lastLoss = await loss.item();
      loss.dispose();
    }
  }
  opt.zeroGrad();
  opt.dispose();
  const acc = await accuracy(model.eval(), testX, testY);
  assert.ok(acc >= 0.9, `test accuracy ${acc} (before training ${before}, last loss ${lastLoss})`);
  assert.ok(before < 0.5, `untrained accuracy ${before} should be near chance`);
});

test('a frozen network passes gradients to its input only', async () => {
  model.freeze().eval();
  const params = [...model.parameters()];
  const snapshot = await Promise.all(params.map((p) => p.read()));
  const statsBefore = rt().stats().bytesInUse;
  // optimise the input images towards class 0 (a tiny reprogramming): only x changes
  const x0 = testX;
  const x = keep(ops.clone(x0));
  x.requiresGrad = true;
  const target = keep(tensor(new Int32Array(256)));
  const opt = new SGD([x], { lr: 1.0 });
  for (let i = 0; i < 30; i++) {
    scope(() => {
      const l = ops.crossEntropy(model.forward(x), target);
      opt.zeroGrad();
      backward(l);
      for (const p of params) assert.is(p.grad, null, `frozen parameter ${p.name} received a gradient`);
      assert.ok(x.grad, 'the input received a gradient');
      opt.step();
    });
  }
  const acc0 = await accuracy(model, x, new Int32Array(256));
  assert.ok(acc0 > 0.8, `input optimisation moved ${acc0} of the images to class 0`);
  const after = await Promise.all(params.map((p) => p.read()));
  after.forEach((a, k) => assert.equal(Array.from(a), Array.from(snapshot[k]!), `parameter ${params[k]!.name} changed`));
  opt.zeroGrad();
  opt.dispose();
  x.dispose();
  target.dispose();
  assert.is(rt().stats().bytesInUse, statsBefore, 'no memory leaked');
  model.dispose();
  testX.dispose();
});

test.run();
