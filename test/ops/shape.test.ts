import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ops from '../../src/ops/all.js';
import { empty, tensor } from '../../src/index.js';
import { checkOp, prod, randArray } from '../helpers.js';

function coords(i: number, shape: number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return c;
}
function flat(c: number[], shape: number[]): number {
  return c.reduce((p, v, d) => p * shape[d]! + v, 0);
}

test('permute / transpose', async () => {
  for (const [shape, perm] of [
    [[2, 3], [1, 0]],
    [[2, 3, 5], [2, 0, 1]],
    [[1, 4, 3, 2], [0, 3, 1, 2]],
  ] as [number[], number[]][]) {
    const x = randArray(prod(shape));
    const outShape = perm.map((p) => shape[p]!);
    await checkOp(`permute [${shape}] by [${perm}]`, [{ data: x, shape, grad: true }], ([t]) => ops.permute(t!, perm), ([a]) => {
      const out = new Float64Array(a!.length);
      for (let i = 0; i < out.length; i++) {
        const oc = coords(i, outShape);
        const ic = new Array<number>(shape.length);
        perm.forEach((p, k) => (ic[p] = oc[k]!));
        out[i] = a![flat(ic, shape)]!;
      }
      return out;
    });
  }
  const x = randArray(6);
  await checkOp('transpose', [{ data: x, shape: [2, 3], grad: true }], ([t]) => ops.transpose(t!), ([a]) => Float64Array.from([0, 3, 1, 4, 2, 5].map((i) => a![i]!)));
});

test('slice', async () => {
  const shape = [4, 5, 3];
  const x = randArray(prod(shape));
  const b = [1, 0, 1];
  const e = [3, 4, 3];
  const os = e.map((v, i) => v - b[i]!);
  await checkOp('slice', [{ data: x, shape, grad: true }], ([t]) => ops.slice(t!, b, e), ([a]) => {
    const out = new Float64Array(prod(os));
    for (let i = 0; i < out.length; i++) out[i] = a![flat(coords(i, os).map((c, d) => c + b[d]!), shape)]!;
    return out;
  });
  assert.throws(() => ops.slice(tensor([1, 2, 3]), [2], [4]), /out of bounds/);
});

test('concat along each axis', async () => {
  for (const axis of [0, 1, 2]) {
    const s1 = [2, 3, 4];
    const s2 = s1.map((d, i) => (i === axis ? d + 1 : d));
    const os = s1.map((d, i) => (i === axis ? d + s2[i]! : d));
    const x1 = randArray(prod(s1));
    const x2 = randArray(prod(s2));
    await checkOp(`concat axis ${axis}`, [{ data: x1, shape: s1, grad: true }, { data: x2, shape: s2, grad: true }], ([a, b]) => ops.concat([a!, b!], axis), ([a, b]) => {
      const out = new Float64Array(prod(os));
      for (let i = 0; i < out.length; i++) {
        const c = coords(i, os);
        out[i] = c[axis]! < s1[axis]! ? a![flat(c, s1)]! : b![flat(c.map((v, d) => (d === axis ? v - s1[axis]! : v)), s2)]!;
      }
      return out;
    });
  }
});

test('pad with a constant', async () => {
  const shape = [2, 3, 3];
  const pads: [number, number][] = [[0, 0], [1, 2], [2, 0]];
  const os = shape.map((d, i) => d + pads[i]![0] + pads[i]![1]);
  const x = randArray(prod(shape));
  await checkOp('pad', [{ data: x, shape, grad: true }], ([t]) => ops.pad(t!, pads, 0.5), ([a]) => {
    const out = new Float64Array(prod(os)).fill(0.5);
    for (let i = 0; i < a!.length; i++) out[flat(coords(i, shape).map((c, d) => c + pads[d]![0]), os)] = a![i]!;
    return out;
  });
});

test('expand and reshape', async () => {
  const x = randArray(3);
  await checkOp('expand', [{ data: x, shape: [3, 1], grad: true }], ([t]) => ops.expand(t!, [2, 3, 4]), ([a]) => {
    const out = new Float64Array(24);
    for (let i = 0; i < 24; i++) out[i] = a![coords(i, [2, 3, 4])[1]!]!;
    return out;
  });
  const y = randArray(12);
  await checkOp('reshape', [{ data: y, shape: [3, 4], grad: true }], ([t]) => ops.reshape(t!, [2, -1, 3]), ([a]) => Float64Array.from(a!));
  assert.throws(() => ops.reshape(tensor([1, 2, 3]), [2, 2]), /cannot reshape/);
});

test('4-aligned copies (vec4 path): slice, concat and pad on a channel axis of 8', async () => {
  const shape = [3, 2, 8];
  const x = randArray(prod(shape));
  await checkOp('slice vec4', [{ data: x, shape, grad: true }], ([t]) => ops.slice(t!, [1, 0, 4], [3, 2, 8]), ([a]) => {
    const out: number[] = [];
    for (let i = 1; i < 3; i++) for (let j = 0; j < 2; j++) for (let k = 4; k < 8; k++) out.push(a![(i * 2 + j) * 8 + k]!);
    return Float64Array.from(out);
  });
  const y = randArray(prod(shape));
  await checkOp('concat vec4 (NHWC channels)', [{ data: x, shape, grad: true }, { data: y, shape, grad: true }], ([a, b]) => ops.concat([a!, b!], 2), ([a, b]) => {
    const out: number[] = [];
    for (let r = 0; r < 6; r++) out.push(...a!.subarray(r * 8, r * 8 + 8), ...b!.subarray(r * 8, r * 8 + 8));
    return Float64Array.from(out);
  });
});

test('i32 tensors copy exactly through shape ops', async () => {
  const x = tensor(Int32Array.from([1, -2, 3, 1 << 30, -(1 << 30), 7]), [2, 3]);
  const y = ops.transpose(x);
  assert.is(y.dtype, 'i32');
  assert.equal(Array.from(await y.read()), [1, 1 << 30, -2, -(1 << 30), 3, 7]);
  const z = ops.full([3], -5, 'i32');
  assert.equal(Array.from(await z.read()), [-5, -5, -5]);
});

test('strided copy with reversed axes (the conv dx weight flip)', async () => {
  for (const [shape, flipMask] of [
    [[3, 3, 5, 7], 0b0011],
    [[1, 1, 4, 2], 0b0011],
    [[2, 5, 3], 0b101],
    [[9], 0b1],
  ] as [number[], number][]) {
    const n = prod(shape);
    const data = randArray(n);
    // input read transposed on the last two axes where rank ≥ 2 (as the conv flip does)
    const r = shape.length;
    const ishape = r >= 2 ? [...shape.slice(0, r - 2), shape[r - 1]!, shape[r - 2]!] : shape;
    const istrideOf = (sh: number[]) => sh.map((_, d) => prod(sh.slice(d + 1)));
    const is = istrideOf(ishape);
    const istride = r >= 2 ? [...is.slice(0, r - 2), is[r - 1]!, is[r - 2]!] : is;
    const x = tensor(Float32Array.from(data), ishape);
    const out = empty(shape);
    ops.stridedCopy(x, out, shape, istride, istrideOf(shape), 0, 0, flipMask);
    const got = (await out.read()) as Float32Array;
    for (let i = 0; i < n; i++) {
      const c = coords(i, shape).map((v, d) => ((flipMask >> d) & 1 ? shape[d]! - 1 - v : v));
      const src = c.reduce((p, v, d) => p + v * istride[d]!, 0);
      assert.is(got[i], Math.fround(data[src]!), `[${shape}] flip ${flipMask} element ${i}`);
    }
    x.dispose();
    out.dispose();
  }
});

test.run();
