import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ops from '../../src/ops/all.js';
import { tensor } from '../../src/index.js';
import { checkOp, prod, randArray } from '../helpers.js';
import { resizeRef } from '../reference/resize.js';

const cases: [number[], number, number][] = [
  [[1, 5, 7, 3], 9, 13], // up, odd
  [[2, 9, 3, 5], 4, 7], // down in H, up in W
  [[1, 8, 6, 12], 3, 5], // down (non-integer factors)
  [[1, 4, 4, 33], 8, 8], // x2
  [[2, 6, 9, 1], 6, 3], // identity in H, /3 in W
  [[1, 1, 3, 2], 4, 1], // one-pixel axes
  [[2, 3, 5, 4], 7, 9], // up, vec4-over-channels path
];

for (const [mode, align] of [['bilinear', true], ['bilinear', false], ['nearest', false]] as const) {
  test(`resize ${mode} alignCorners=${align}: forward + gradient`, async () => {
    for (const [shape, oh, ow] of cases) {
      await checkOp(
        `resize ${mode} align=${align} [${shape}] -> ${oh}x${ow}`,
        [{ data: randArray(prod(shape)), shape, grad: true }],
        ([t]) => ops.resize(t!, [oh, ow], { mode, alignCorners: align }),
        ([a]) => resizeRef(a!, shape, oh, ow, mode, align),
        { samples: 30 },
      );
    }
  });
}

test('upsample2x (UNet Up: bilinear, align_corners=True) and the nearest variant', async () => {
  for (const shape of [[2, 4, 4, 12], [1, 5, 3, 3]]) {
    const [, h, w] = shape as [number, number, number, number];
    await checkOp(`upsample2x bilinear [${shape}]`, [{ data: randArray(prod(shape)), shape, grad: true }], ([t]) => ops.upsample2x(t!, 'bilinear', true), ([a]) => resizeRef(a!, shape, 2 * h, 2 * w, 'bilinear', true));
    await checkOp(`upsample2x bilinear half-pixel [${shape}]`, [{ data: randArray(prod(shape)), shape, grad: true }], ([t]) => ops.upsample2x(t!, 'bilinear', false), ([a]) => resizeRef(a!, shape, 2 * h, 2 * w, 'bilinear', false));
    await checkOp(`upsample2x nearest [${shape}]`, [{ data: randArray(prod(shape)), shape, grad: true }], ([t]) => ops.upsample2x(t!, 'nearest'), ([a]) => resizeRef(a!, shape, 2 * h, 2 * w, 'nearest'));
  }
});

test('resize: full gradient equals the transpose of the forward map (every input pixel)', async () => {
  // a sample-free check that the gather backward window misses no tap: compare all of dx
  for (const shape of [[1, 7, 5, 2], [1, 7, 5, 4]]) // scalar and vec4-over-channels kernels
  for (const [oh, ow, align] of [[16, 3, true], [3, 11, false], [13, 13, false]] as const) {
    await checkOp(`resize all-coordinates ${oh}x${ow} align=${align}`, [{ data: randArray(prod(shape)), shape, grad: true }], ([t]) => ops.resize(t!, [oh, ow], { mode: 'bilinear', alignCorners: align }), ([a]) => resizeRef(a!, shape, oh, ow, 'bilinear', align), { samples: prod(shape) });
  }
});

test('resize rejects bad arguments with clear messages', () => {
  const x = tensor(new Float32Array(2 * 3 * 3 * 4), [2, 3, 3, 4]);
  assert.throws(() => ops.resize(tensor(new Float32Array(4), [2, 2]), [4, 4], { mode: 'bilinear' }), /resize: x must be NHWC/);
  assert.throws(() => ops.resize(x, [0, 4], { mode: 'bilinear' }), /resize: output size/);
  assert.throws(() => ops.resize(x, [4, 4], { mode: 'nearest', alignCorners: true }), /alignCorners can only be set/);
});

test.run();
