import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { modelFiles, num } from '../../src/util/cli.js';

test('num: kinds, absent flag, and the error names the flag', () => {
  assert.is(num('epochs', undefined, 'int'), undefined);
  assert.is(num('epochs', '3', 'int'), 3);
  assert.is(num('seed', '0', 'nonneg-int'), 0);
  assert.is(num('rate', '0.1', 'rate'), 0.1);
  assert.throws(() => num('epochs', '0', 'int'), /--epochs must be a positive integer, got '0'/);
  assert.throws(() => num('epochs', '2.5', 'int'), /positive integer/);
  assert.throws(() => num('rate', '1.5', 'rate'), /--rate must be a number in \[0, 1\]/);
  assert.throws(() => num('lr', '', 'pos'), /--lr must be a positive number/);
});

test('modelFiles: at least one, each must exist', () => {
  assert.equal(modelFiles(['package.json']), ['package.json']);
  assert.throws(() => modelFiles([]), /give at least one model file/);
  assert.throws(() => modelFiles(['package.json', 'no/such.safetensors']), /no such model file: no\/such.safetensors/);
});

test.run();
