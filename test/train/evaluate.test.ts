import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { accuracyByClass, confusionMatrix, formatByClass, formatConfusions } from '../../src/train/evaluate.js';

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

test.run();
