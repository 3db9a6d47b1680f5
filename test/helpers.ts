/** Test helpers: random data, closeness checks, finite-difference gradient checks. */
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { Rng } from '../src/util/random.js';
import { backward, scope, tensor, type Tensor } from '../src/index.js';
import * as ops from '../src/ops/all.js';

export const rng = new Rng(12345);

export function randArray(n: number, r: Rng = rng, lo = -1, hi = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = r.uniform(lo, hi);
  return a;
}

export function prod(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Asserts |a - e| <= atol + rtol |e| elementwise, with a useful message. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, atol = 1e-4, rtol = 1e-3): void {
  assert.is(actual.length, expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const err = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(err <= 0) && (worst < 0 || err > worstErr || Number.isNaN(a))) {
      worst = i;
      worstErr = Number.isNaN(a) ? Infinity : err;
    }
  }
  if (worst >= 0) {
    assert.unreachable(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (atol ${atol}, rtol ${rtol})`);
  }
}

export interface GradCheckOptions {
  /** how many coordinates per input to check by finite differences (all if smaller) */
  samples?: number;
  eps?: number;
  atol?: number;
  rtol?: number;
  seed?: number;
  /**
   * The closed-form gradient of L = sum(w ⊙ out) w.r.t. each input (null: none): compared with
   * the engine's on every element, and checked itself against the finite differences. For ops
   * whose gradient is sparse or tiny (a max over long rows, a mean over thousands), where a few
   * sampled coordinates cannot tell a wrong gradient from a right one.
   */
  gradRef?: (xs: Float64Array[], w: Float64Array) => (Float64Array | null)[];
}

/**
 * Checks the forward of `gpu` against the float64 CPU reference `cpu`, then the gradient of
 * L = sum(w ⊙ out) (random w) w.r.t. every input in `gradInputs` against central finite
 * differences of the reference.
 */
export async function checkOp(
  name: string,
  inputs: { data: Float64Array; shape: number[]; grad?: boolean }[],
  gpu: (xs: Tensor[]) => Tensor,
  cpu: (xs: Float64Array[]) => Float64Array,
  opts: GradCheckOptions & { fwdAtol?: number; fwdRtol?: number } = {},
): Promise<void> {
  const r = new Rng(opts.seed ?? 7);
  const ref = cpu(inputs.map((i) => i.data));
  const w = randArray(ref.length, r);
  const { out, grads } = await (async () => {
    let outT: Tensor | null = null;
    const gradTs: (Tensor | null)[] = [];
    const xs = inputs.map((i) => {
      const t = tensor(Float32Array.from(i.data), i.shape);
      t.requiresGrad = !!i.grad;
      return t;
    });
    scope(() => {
      const y = gpu(xs);
      outT = ops.detach(y);
      if (inputs.some((i) => i.grad)) {
        const loss = ops.sum(ops.mul(y, tensor(Float32Array.from(w), y.shape)));
        backward(loss);
      }
      return outT;
    });
    for (const x of xs) gradTs.push(x.grad);
    const o = await outT!.read();
    const gs = await Promise.all(gradTs.map((g) => (g ? g.read() : null)));
    outT!.dispose();
    xs.forEach((x) => {
      x.grad?.dispose();
      x.dispose();
    });
    return { out: o, grads: gs };
  })();
  assertClose(out, ref, `${name} forward`, opts.fwdAtol ?? 1e-4, opts.fwdRtol ?? 1e-3);
  const eps = opts.eps ?? 1e-3;
  inputs.forEach((inp, k) => {
    if (!inp.grad) return;
    const g = grads[k];
    assert.ok(g, `${name}: input ${k} got no gradient`);
    const n = inp.data.length;
    const exact = opts.gradRef?.(inputs.map((q) => q.data), w)[k];
    if (exact) assertClose(g!, exact, `${name} gradient of input ${k} (closed form, every element)`, opts.atol ?? 2e-3, opts.rtol ?? 1e-2);
    const count = Math.min(n, opts.samples ?? 24);
    const idx = count === n ? [...Array(n).keys()] : Array.from({ length: count }, () => r.int(n));
    const got: number[] = [];
    const fd: number[] = [];
    for (const i of idx) {
      const xs = inputs.map((q) => Float64Array.from(q.data));
      xs[k]![i]! += eps;
      const lp = dot(cpu(xs), w);
      xs[k]![i]! -= 2 * eps;
      const lm = dot(cpu(xs), w);
      fd.push((lp - lm) / (2 * eps));
      got.push(g![i]!);
    }
    if (exact) assertClose(idx.map((i) => exact[i]!), fd, `${name} closed-form gradient reference of input ${k}`, 1e-6, 1e-6);
    assertClose(got, fd, `${name} gradient of input ${k}`, opts.atol ?? 2e-3, opts.rtol ?? 1e-2);
  });
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Writes a safetensors file from a raw header object and data bytes (malformed files included); returns `file`. */
export function writeRawSafetensors(file: string, header: unknown, data: Uint8Array): string {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([len, json, data]));
  return file;
}
