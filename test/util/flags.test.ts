import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { flagOptions, flagUsage, readFlags, type FlagTable } from '../../src/util/flags.js';
import { recipeFlagOptions, recipeFlagUsage, recipeOverrides } from '../../src/pipeline/refine-flags.js';
import { refinePreset, withRefineOverrides } from '../../src/pipeline/refine-presets.js';

const table = {
  epochs: { kind: 'int', help: 'epochs' },
  weight: { kind: 'nonneg', help: 'a weight\nthat may be 0' },
  guard: { kind: 'on-off', help: 'a switch' },
  mode: { kind: { choices: ['a', 'b'] }, help: 'a choice' },
  list: { kind: 'int-list', help: 'a list' },
  verbose: { kind: 'bool', help: 'talk' },
} as const satisfies FlagTable;

test('flagOptions: booleans for bool flags, strings for the rest', () => {
  const o = flagOptions(table);
  assert.is(o.verbose.type, 'boolean');
  assert.is(o.epochs.type, 'string');
  assert.is(o.mode.type, 'string');
});

test('readFlags: each kind parsed, absent flags undefined', () => {
  const v = readFlags(table, { epochs: '3', weight: '0', guard: 'off', mode: 'b', list: '2,5', verbose: true });
  assert.equal(v, { epochs: 3, weight: 0, guard: false, mode: 'b', list: [2, 5], verbose: true });
  assert.equal(readFlags(table, {}), { epochs: undefined, weight: undefined, guard: undefined, mode: undefined, list: undefined, verbose: undefined });
});

test('readFlags: a bad value names the flag and the value', () => {
  assert.throws(() => readFlags(table, { epochs: '0' }), /--epochs must be a positive integer, got '0'/);
  assert.throws(() => readFlags(table, { weight: '-1' }), /--weight must be a number ≥ 0, got '-1'/);
  assert.throws(() => readFlags(table, { guard: 'yes' }), /--guard must be on or off, got 'yes'/);
  assert.throws(() => readFlags(table, { mode: 'c' }), /--mode must be a or b, got 'c'/);
  assert.throws(() => readFlags(table, { list: '1,x' }), /--list must be a positive integer, got 'x'/);
});

test('flagUsage: one line per flag with its placeholder, continuation lines aligned', () => {
  const u = flagUsage(table).split('\n');
  assert.is(u[0], '  --epochs N'.padEnd(30) + 'epochs');
  assert.is(u[1], '  --weight X'.padEnd(30) + 'a weight');
  assert.is(u[2], ' '.repeat(30) + 'that may be 0');
  assert.ok(u.some((l) => l.startsWith('  --mode a|b ')));
  assert.ok(u.some((l) => l.startsWith('  --verbose ')));
});

test('REFINE recipe flags: reproduce and defend name the same overrides', () => {
  const rep = recipeOverrides('reproduce', { 'refine-epochs': '4', 'refine-subset': '500', lambda: '0', renormalize: 'on', 'pseudo-labels': 'plain', 'refine-schedule': 'multistep' });
  const def = recipeOverrides('defend', { epochs: '4', unlabeled: '500', lambda: '0', renormalize: 'on', 'pseudo-labels': 'plain', schedule: 'multistep' });
  assert.equal(rep, def);
  assert.equal(rep, { epochs: 4, trainSubset: 500, schedule: 'multistep', lambda: 0, renormalize: true, pseudoLabels: 'plain' });
  // every flag is in the options and the usage of both scripts
  for (const style of ['reproduce', 'defend'] as const) {
    const names = Object.keys(recipeFlagOptions(style));
    assert.is(names.length, 13);
    for (const n of names) assert.match(recipeFlagUsage(style), `--${n} `);
  }
  assert.throws(() => recipeOverrides('defend', { schedule: 'cosine' }), /--schedule must be onecycle or multistep, got 'cosine'/);
  assert.throws(() => recipeOverrides('reproduce', { 'refine-lr': '-1' }), /--refine-lr must be a positive number/);
});

test('REFINE recipe flags: the overrides land in the preset (λ = 0 switches SupCon off)', () => {
  const p = withRefineOverrides(refinePreset('budget', { h: 28, w: 28, c: 1 }), recipeOverrides('defend', { lambda: '0', 'unet-channels': '32', 'augmentation-guard': 'off' }));
  assert.is(p.lambda, 0);
  assert.is(p.unetChannels, 32);
  assert.is(p.augmentationGuard, undefined);
});

test.run();
