import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rt, tensor, empty, scope } from '../../src/index.js';
import * as ops from '../../src/ops/all.js';
import { WGSL } from '../../src/kernels.generated.js';

test('the kernel bundle matches kernels/*.wgsl (their // @include lines resolved)', () => {
  const dir = join(import.meta.dirname, '../../kernels');
  const files = readdirSync(dir).filter((f) => f.endsWith('.wgsl'));
  assert.equal(Object.keys(WGSL).sort(), files.map((f) => f.slice(0, -5)).sort());
  const resolve = (src: string) => src.replace(/^\/\/ @include (\S+)$/gm, (_, inc: string) => readFileSync(join(dir, inc), 'utf8').trimEnd());
  for (const f of files) assert.ok(WGSL[f.slice(0, -5)] === resolve(readFileSync(join(dir, f), 'utf8')), `${f} is stale in the bundle: run npm run build:kernels`);
  assert.not.match(WGSL.softmax!, /^\/\/ @include/m, 'includes are resolved in the bundle');
  assert.match(WGSL.softmax!, /fn row_max/);
});

test('a WebGPU validation error surfaces as an exception naming the kernel', async () => {
  const a = tensor([1, 2, 3]);
  const out = empty([3]);
  // binding 2 (b) left out: the bind group is invalid
  rt().dispatch({ kernel: 'elementwise', entry: 'binary', buffers: [a.buffer, null, out.buffer], workgroups: 1 });
  let err: Error | null = null;
  try {
    await rt().sync();
  } catch (e) {
    err = e as Error;
  }
  assert.ok(err, 'expected an error');
  assert.match(err!.message, /elementwise/);
  a.dispose();
  out.dispose();
  // the runtime keeps working afterwards
  const b = tensor([1, 2]);
  assert.equal(Array.from(await ops.neg(b).read()), [-1, -2]);
});

test('an unknown kernel is a clear synchronous error', () => {
  assert.throws(() => rt().dispatch({ kernel: 'nope', buffers: [], workgroups: 1 }), /unknown kernel 'nope'/);
});

test('pipelines are cached per variant, not per shape', () => {
  scope(() => {
    ops.exp(tensor([1, 2, 3]));
    const before = rt().counters.pipelines;
    ops.exp(tensor([1, 2, 3, 4, 5]));
    ops.exp(tensor(new Float32Array(77), [7, 11]));
    assert.is(rt().counters.pipelines, before);
  });
});

test('dispatches above 65535 workgroups are folded into 2-D', async () => {
  const n = 64 * 70001 + 1; // odd: scalar path, 70002 workgroups of 64
  // a ramp, checked on every element: a skipped or misplaced workgroup row shows
  const ramp = Float32Array.from({ length: n }, (_, i) => i % 65521);
  const x = tensor(ramp, [n]);
  const y = ops.affine(x, 3, 1);
  const out = new Float32Array(n);
  await y.readInto(out);
  for (let i = 0; i < n; i++) if (out[i] !== 3 * ramp[i]! + 1) assert.unreachable(`element ${i}: ${out[i]}, expected ${3 * ramp[i]! + 1}`);
  x.dispose();
  y.dispose();
});

test('readInto fills a preallocated array; bad sizes are rejected', async () => {
  const t = tensor([1, 2, 3, 4]);
  const a = new Float32Array(4);
  await t.readInto(a);
  assert.equal(Array.from(a), [1, 2, 3, 4]);
  try {
    await t.readInto(new Float32Array(2));
    assert.unreachable('should throw');
  } catch (e) {
    assert.match((e as Error).message, /array of 2/);
  }
  t.dispose();
});

test('a host write after a pending dispatch on the same buffer keeps program order', async () => {
  const t = ops.full([4], 1); // a fill recorded, not yet submitted
  rt().write(t.buffer, new Float32Array([2, 3, 4, 5]));
  assert.equal(Array.from(await t.read()), [2, 3, 4, 5]);
  t.dispose();
});

test('shape and data errors are reported clearly', () => {
  assert.throws(() => tensor([1, 2, 3], [2, 2]), /do not fill shape/);
  assert.throws(() => empty([2, -1]), /invalid dimension/);
  assert.throws(() => ops.add(tensor([1, 2, 3]), tensor([1, 2])), /do not broadcast/);
});

test.run();
