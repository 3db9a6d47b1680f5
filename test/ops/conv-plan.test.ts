/**
 * The convolution plans (src/ops/conv-plan.ts) for given geometries and policies, without a
 * device: which family, entry and split each shape gets. The kernels themselves are checked
 * against float64 references in conv.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planDgrad, planForward, planWgrad, thinInputPadding, type ConvPolicy, type Geo } from '../../src/ops/conv-plan.js';

const lavapipe: ConvPolicy = { variant: 'auto', subgroupSize: 8 };
const gpu: ConvPolicy = { variant: 'auto', subgroupSize: 32 };
const tuned: ConvPolicy = { variant: 'auto', tuned: 'tiled', subgroupSize: 32 };
const generic: ConvPolicy = { variant: 'generic', subgroupSize: 8 };

/** A 3×3 convolution of a [2, 28, 28, C] input to CO channels. */
const geo = (C: number, CO: number, S = 1): Geo => {
  const OH = Math.floor((28 + 2 - 3) / S) + 1;
  return { N: 2, H: 28, W: 28, C, OH, OW: OH, CO, KH: 3, KW: 3, S, P: 1 };
};

test('forward: subgroup entries by column tile on lavapipe, fast / generic otherwise, tiled when tuned', () => {
  assert.equal(planForward(geo(16, 16), lavapipe), { family: 'subgroup', entry: 'main_wb', workgroups: [Math.ceil((2 * 28 * 28) / 32), 1, 1] });
  assert.is((planForward(geo(16, 32), lavapipe) as { entry: string }).entry, 'main_ns1');
  assert.equal(planForward(geo(16, 8), lavapipe), { family: 'fast', entry: 'main_vec', workgroups: [Math.ceil((2 * 28 * 28) / 8), 1, 1] });
  assert.is((planForward(geo(6, 8), lavapipe) as { entry: string }).entry, 'main');
  assert.is(planForward(geo(16, 6), lavapipe).family, 'generic');
  assert.is(planForward(geo(16, 16), gpu).family, 'fast', 'no subgroup kernels where the subgroup is not 8 lanes');
  assert.is(planForward(geo(16, 16), tuned).family, 'tiled');
  assert.is(planForward(geo(16, 16), generic).family, 'generic');
  assert.is(planForward(geo(16, 16), { variant: 'subgroup', subgroupSize: 32 }).family, 'fast', 'a forced subgroup falls back to fast');
});

test('input gradient: stride 1 on the forward kernel with flipped weights, phase-split kernels at stride 2', () => {
  const f = planDgrad(geo(16, 16), lavapipe);
  assert.is(f.family, 'forward-flipped');
  assert.equal((f as { geo: Geo }).geo, { N: 2, H: 28, W: 28, C: 16, OH: 28, OW: 28, CO: 16, KH: 3, KW: 3, S: 1, P: 1 });
  const s2 = planDgrad(geo(16, 16, 2), lavapipe);
  assert.is(s2.family, 'subgroup');
  assert.is((s2 as { entry: string }).entry, 'main_wb');
  assert.equal((s2 as { workgroups: (m: number) => number[] }).workgroups(196), [7, 1, 1]);
  assert.is((planDgrad(geo(8, 16, 2), lavapipe) as { entry: string }).entry, 'main_wb1', 'Cin 4-12: the narrow entry');
  assert.is(planDgrad(geo(16, 16), gpu).family, 'fast');
  assert.is(planDgrad(geo(6, 16), gpu).family, 'generic');
  assert.is(planDgrad(geo(16, 16), tuned).family, 'tiled');
});

test('weight gradient: split-K covering every pixel; subgroup chunks are multiples of 8', () => {
  const M = 2 * 28 * 28;
  const sg = planWgrad(geo(16, 16), lavapipe);
  assert.equal([sg.family, sg.entry], ['subgroup', 'main_ns2_r8']);
  assert.ok(sg.chunk % 8 === 0 && sg.splits * sg.chunk >= M && (sg.splits - 1) * sg.chunk < M, JSON.stringify(sg));
  const big = planWgrad({ ...geo(256, 256), N: 1, H: 4, W: 4, OH: 4, OW: 4 }, lavapipe);
  assert.is(big.splits, 1, 'enough workgroups without splitting');
  const fa = planWgrad(geo(16, 8), lavapipe);
  assert.equal([fa.family, fa.entry], ['fast', 'main_vec']);
  const ti = planWgrad(geo(16, 16), tuned);
  assert.ok(ti.family === 'tiled' && ti.splits * ti.chunk >= M);
  assert.is(planWgrad(geo(16, 16), generic).family, 'generic');
});

test('thin inputs (1-3 channels) are padded to 4 or 8 channels, except on the generic and tiled kernels', () => {
  assert.is(thinInputPadding({ C: 1, CO: 32 }, lavapipe), 4);
  assert.is(thinInputPadding({ C: 3, CO: 16 }, lavapipe), 8);
  assert.is(thinInputPadding({ C: 4, CO: 16 }, lavapipe), 0);
  assert.is(thinInputPadding({ C: 1, CO: 16 }, generic), 0);
  assert.is(thinInputPadding({ C: 1, CO: 16 }, tuned), 0);
});

test.run();
