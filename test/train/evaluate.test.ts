import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { accuracyByClass, confusionMatrix, formatByClass, formatConfusions, largestFittingBatch, predict } from '../../src/train/evaluate.js';
import { rt, scope, type Tensor } from '../../src/index.js';
import * as ops from '../../src/ops/all.js';
import type { ImageDataset } from '../../src/data/dataset.js';

/**
 * A stand-in for a model on large images: each forward allocates a scratch tensor of 1/2.5 of the
 * adapter's binding limit per image (so batches of 3 and more are refused) and predicts, for
 * each image, the index of its brightest pixel.
 */
function bigModel(calls: number[]) {
  const per = Math.floor(rt().limits.maxStorageBufferBindingSize / 4 / 2.5);
  return {
    forward(x: Tensor): Tensor {
      const b = x.shape[0]!;
      calls.push(b);
      ops.full([b, per], 0); // freed by predict's scope
      return ops.reshape(x, [b, x.size / b]);
    },
  };
}

test('accuracyByClass: the share of each class predicted as itself; empty classes left out', () => {
  const ds = { labels: new Uint8Array([0, 0, 0, 1, 1, 3, 3, 3, 3]), classes: ['a', 'b', 'c', 'd'] };
  const pred = new Int32Array([0, 1, 0, 1, 0, 3, 3, 3, 0]);
  assert.equal(accuracyByClass(pred, ds), { a: 2 / 3, b: 1 / 2, d: 3 / 4 });
  assert.throws(() => accuracyByClass(pred.subarray(1), ds), /8 predictions for 9 images/);
});

test('formatByClass: one line in class order, percent with the given digits', () => {
  assert.is(formatByClass({ 'T-shirt/top': 0.9126, Trouser: 1, Bag: 0.0005 }), 'T-shirt/top 91.3%, Trouser 100.0%, Bag 0.1%');
  assert.is(formatByClass({ a: 2 / 3 }, 2), 'a 66.67%');
  assert.is(formatByClass({}), '');
});

test('confusionMatrix: counts by true and predicted class; bad input throws', () => {
  const labels = [0, 0, 0, 1, 1, 2, 2, 2, 2];
  const pred = [0, 1, 2, 1, 1, 0, 0, 2, 1];
  assert.equal(confusionMatrix(pred, labels, 3), [[1, 1, 1], [0, 2, 0], [2, 1, 1]]);
  assert.throws(() => confusionMatrix(pred.slice(1), labels, 3), /8 predictions for 9 labels/);
  assert.throws(() => confusionMatrix([3], [0], 3), /class 3 at 0 is outside 0\.\.2/);
});

test('formatConfusions: the largest wrong predictions of each class with enough errors', () => {
  const cm = [
    [90, 0, 10, 0], // 10% wrong, all to c
    [0, 100, 0, 0], // no errors: left out
    [30, 5, 60, 5], // 40% wrong: a 30%, then b and d tie at 5% (class order)
    [2, 0, 0, 98], // 2% wrong: below minError 5%
  ];
  const names = ['a', 'b', 'c', 'd'];
  assert.is(formatConfusions(cm, names), 'a (10.0% wrong) → c 10.0%; c (40.0% wrong) → a 30.0%, b 5.0%');
  assert.is(formatConfusions(cm, names, { top: 3, minError: 0 }), 'a (10.0% wrong) → c 10.0%; c (40.0% wrong) → a 30.0%, b 5.0%, d 5.0%; d (2.0% wrong) → a 2.0%');
  assert.is(formatConfusions([[0, 0], [0, 0]], names), '');
});

test('predict splits a batch whose tensors exceed the binding limit into batches that fit; same predictions', async () => {
  const n = 7;
  const images = new Uint8Array(n * 16);
  for (let i = 0; i < n; i++) images[i * 16 + ((i * 5) % 16)] = 255;
  const ds: ImageDataset = { name: 'big', images, labels: new Uint8Array(n), n, h: 4, w: 4, c: 1, classes: ['a'] };
  const calls: number[] = [];
  const pred = await predict(bigModel(calls), ds, { normalization: null, batchSize: 8 });
  assert.equal(Array.from(pred), Array.from({ length: n }, (_, i) => (i * 5) % 16));
  assert.is(calls[0], 7, 'the whole set first');
  assert.ok(calls.length > 1 && calls.slice(1).every((b) => b <= 2), `after the refusal only batches that fit: ${calls}`);
});

test('largestFittingBatch: the largest batch whose probe allocates within the limit; other errors pass through', () => {
  const calls: number[] = [];
  const m = bigModel(calls);
  const x = (b: number) => ops.full([b, 1, 1, 1], 0);
  assert.is(largestFittingBatch(32, (b) => scope(() => m.forward(x(b)))), 2);
  assert.is(largestFittingBatch(2, () => {}), 2);
  assert.throws(() => largestFittingBatch(8, () => {
    throw new Error('another problem');
  }), /another problem/);
});

test.run();
