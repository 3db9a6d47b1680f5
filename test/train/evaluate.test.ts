import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { accuracyByClass, formatByClass } from '../../src/train/evaluate.js';

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

test.run();
