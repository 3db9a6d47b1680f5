import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { autotune, describeTuning, rt, tensor } from '../../src/index.js';
import { setTunedVariant, tunedVariant } from '../../src/ops/tuning.js';
import { conv2dRaw } from '../../src/ops/conv.js';

test('autotune: measures every family the adapter runs, caches per adapter, auto follows it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'refine-autotune-'));
  const cacheFile = join(dir, 'sub', 'autotune.json');
  try {
    const kernels = [...(rt().subgroupSize === 8 ? ['subgroup'] : []), 'fast', 'tiled'];
    const want = { conv: kernels, matmul: kernels, memory: ['lanes', 'coalesced'] };
    const r = await autotune({ cacheFile, reps: 1 });
    assert.ok(r);
    assert.is(r.cached, false);
    for (const f of ['conv', 'matmul', 'memory'] as const) {
      assert.equal(Object.keys(r[f].ms).sort(), [...want[f]].sort(), `${f}: one time per candidate`);
      for (const ms of Object.values(r[f].ms)) assert.ok(ms > 0 && Number.isFinite(ms));
      const fastest = Object.entries(r[f].ms).sort((p, q) => p[1] - q[1])[0]![0];
      assert.is(r[f].choice, fastest);
      assert.is(tunedVariant(f), fastest, `${f}: 'auto' now follows the measurement`);
    }
    const file = JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, unknown>;
    const key = Object.keys(file)[0]!;
    assert.ok(key.startsWith(rt().adapterName), 'keyed by adapter');
    assert.match(describeTuning(r), /^kernels: conv -> \w+ \(.*\), matmul -> \w+ \(.*\), memory -> (lanes|coalesced) \(/);

    // second call: from the cache, no measurement
    setTunedVariant('conv', undefined);
    setTunedVariant('matmul', undefined);
    setTunedVariant('memory', undefined);
    const again = await autotune({ cacheFile });
    assert.ok(again?.cached);
    assert.is(tunedVariant('conv'), r.conv.choice);
    assert.is(tunedVariant('memory'), r.memory.choice);
    assert.match(describeTuning(again), /\[cached\]$/);

    // a forced tuning to the tiled family runs the tiled kernels under 'auto'
    setTunedVariant('conv', 'tiled');
    const x = tensor(new Float32Array(2 * 5 * 5 * 8).fill(1), [2, 5, 5, 8]);
    const w = tensor(new Float32Array(3 * 3 * 8 * 16).fill(0.5), [3, 3, 8, 16]);
    if (rt().features.has('timestamp-query')) {
      rt().startProfile();
      conv2dRaw.forward(x, w, null, { padding: 1 }).dispose();
      assert.equal([...(await rt().stopProfile()).keys()], ['conv2d_tiled']);
    }
    const y = conv2dRaw.forward(x, w, null, { padding: 1 });
    const v = await y.read();
    // centre pixel: 9 taps x 8 channels x 1 x 0.5; corner: 4 taps
    assert.is(v[(0 * 25 + 12) * 16], 36);
    assert.is(v[0], 16);
    for (const t of [x, w, y]) t.dispose();
  } finally {
    setTunedVariant('conv', undefined);
    setTunedVariant('matmul', undefined);
    setTunedVariant('memory', undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
