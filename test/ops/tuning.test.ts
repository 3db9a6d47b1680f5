// The forced-variant switch behind setConvVariant / setMatmulVariant / setMemoryVariant and their
// REFINE_*_VARIANT environment variables (src/ops/tuning.ts). Pure: no device needed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { variantSwitch } from '../../src/ops/tuning.js';

const ENV = 'REFINE_TEST_VARIANT';
const allowed = ['auto', 'lanes', 'wide'] as const;

function withEnv<T>(value: string | undefined, fn: () => T): T {
  const prev = process.env[ENV];
  if (value === undefined) delete process.env[ENV];
  else process.env[ENV] = value;
  try {
    return fn();
  } finally {
    if (prev === undefined) delete process.env[ENV];
    else process.env[ENV] = prev;
  }
}

test('variantSwitch: starts from the environment variable, else auto (an empty value is unset)', () => {
  assert.is(withEnv(undefined, () => variantSwitch('setTest', ENV, allowed).get()), 'auto');
  assert.is(withEnv('', () => variantSwitch('setTest', ENV, allowed).get()), 'auto');
  assert.is(withEnv('wide', () => variantSwitch('setTest', ENV, allowed).get()), 'wide');
});

test('variantSwitch: an unknown environment value is an error naming the variable and the choices', () => {
  assert.throws(() => withEnv('Wide', () => variantSwitch('setTest', ENV, allowed)), /REFINE_TEST_VARIANT=Wide: expected one of auto, lanes, wide/);
});

test('variantSwitch: set validates, names the setter, and returns the previous variant', () => {
  const s = withEnv(undefined, () => variantSwitch('setTest', ENV, allowed));
  assert.is(s.set('lanes'), 'auto');
  assert.is(s.get(), 'lanes');
  assert.throws(() => s.set('simd' as (typeof allowed)[number]), /setTest: unknown variant 'simd'/);
  assert.is(s.get(), 'lanes', 'a rejected value leaves the switch as it was');
});

test.run();
