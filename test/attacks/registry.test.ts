/** The registry, and every attack on every image geometry (grey 28, colour 12, 224). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { attacks } from '../../src/attacks/index.js';
import { NORMALIZATION } from '../../src/data/dataset.js';
import { ResNet18 } from '../../src/nn/resnet.js';
import { Rng } from '../../src/util/random.js';
import { synthetic } from './synthetic.js';

test('seven attacks by name, aliases, clear errors', () => {
  assert.equal(attacks.names(), ['badnets', 'blended', 'wanet', 'physicalba', 'batt', 'lc', 'adaptive']);
  assert.is(attacks.get('WaNet').name, 'wanet');
  assert.is(attacks.get('label-consistent').name, 'lc');
  assert.is(attacks.get('adaptive-patch').name, 'adaptive');
  assert.is(attacks.get('physical-ba').name, 'physicalba');
  assert.throws(() => attacks.get('trojannn'), /unknown attack 'trojannn'; one of: badnets, blended/);
  assert.throws(() => attacks.create('badnets', { h: 32, w: 32, c: 3 }, { rate: 2 }), /rate must be in \[0, 1\]/);
  assert.throws(() => attacks.create('blended', { h: 32, w: 32, c: 3 }, { alpha: '0.1' }), /must be a number/);
  assert.throws(() => attacks.create('wanet', { h: 32, w: 32, c: 3 }, { strength: 1 }), /unknown option 'strength'/);
});

for (const [h, c, n] of [
  [28, 1, 40],
  [12, 3, 40],
  [224, 3, 3],
] as const) {
  test(`every attack works on ${h}x${h}x${c}: poisoned train/test sets, JSON params, target ≠ 0`, async () => {
    // Buffer-backed like the IDX loaders' output: Buffer.slice() is a view, attacks must still copy
    const base = synthetic(n, h, h, c, h, 3);
    const ds = { ...base, images: Buffer.from(base.images), labels: Buffer.from(base.labels) };
    const pristine = new Uint8Array(base.images);
    const model = new ResNet18({ numClasses: 3, inChannels: c, width: 0.0625, seed: 1, stem: h >= 128 ? 'imagenet' : 'cifar' });
    try {
      for (const name of attacks.names()) {
        const target = 1;
        const a = attacks.create(name, { h, w: h, c }, name === 'lc' ? { target, steps: 1, rate: 1 } : name === 'adaptive' ? { target, poisonRate: 0.34, coverRate: 0.34 } : { target, rate: 0.5 });
        const res = await a.poisonTrain(ds, { normalization: c === 1 ? NORMALIZATION['fashion-mnist']! : NORMALIZATION.cifar10!, cleanModel: model });
        assert.is(res.dataset.n, ds.n, name);
        assert.is(res.dataset.images.length, ds.images.length, name);
        assert.ok(res.poisoned.length > 0, `${name}: nothing poisoned`);
        for (const i of res.poisoned) assert.is(res.dataset.labels[i], target, `${name}: label of ${i}`);
        if (res.sampleTransform) {
          const px = h * h * c;
          const out = res.sampleTransform({ data: res.dataset.images.subarray(0, px), h, w: h, c }, 0, new Rng(1));
          assert.is(out.data.length, px);
        }
        const pt = a.poisonTest(ds);
        assert.is(pt.n, Array.from(ds.labels).filter((l) => l !== target).length, name);
        assert.ok(pt.labels.every((l) => l === target));
        const json = JSON.parse(JSON.stringify(a.params()));
        assert.is(json.target, target, name);
        assert.is(json.seed, 666, name);
        for (let i = 0; i < Math.min(ds.n, 8); i++) a.applyTestTrigger({ data: ds.images.subarray(i * h * h * c, (i + 1) * h * h * c), h, w: h, c });
        assert.ok(Buffer.compare(ds.images, pristine) === 0, `${name} modified the clean images`);
        assert.equal(Array.from(ds.labels), Array.from(base.labels), `${name} modified the clean labels`);
      }
    } finally {
      model.dispose();
    }
  });
}

test.run();
