/**
 * Elementwise ops (kernels/elementwise.wgsl) with their gradients. Binary ops broadcast like
 * NumPy; the gradient of a broadcast input is summed back to its shape.
 */
import { rt } from '../tensor/device.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { Uniforms } from '../tensor/uniforms.js';
import { record } from '../autograd/tape.js';
import { assertF32, broadcastShapes, broadcastStrides, groups, MAX_RANK, sameShape } from './util.js';
import { sumTo } from './reduce.js';
import { memoryLayout } from './memory-plan.js';

export const UnaryOp = {
  copy: 0, neg: 1, relu: 2, sigmoid: 3, tanh: 4, exp: 5, log: 6, sqrt: 7, abs: 8, square: 9,
  clamp: 10, affine: 11, reciprocal: 12, fill: 13, step: 14,
} as const;
export const BinaryOp = {
  add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, reluGrad: 6, sigmoidGrad: 7, tanhGrad: 8,
  clampGrad: 9, equal: 10, axpby: 11,
} as const;

/** Raw unary kernel (no autograd). */
export function unaryRaw(op: number, x: Tensor, alpha = 0, beta = 0, out?: Tensor): Tensor {
  const y = out ?? empty(x.shape, 'f32');
  const v4 = x.size % 4 === 0;
  const n = v4 ? x.size / 4 : x.size;
  const WG = memoryLayout().wg;
  rt().dispatch({
    kernel: 'elementwise',
    entry: v4 ? 'unary4' : 'unary',
    constants: { OP: op, WG },
    uniforms: new Uniforms().u32(n, 0).f32(alpha, beta),
    buffers: [x.buffer, null, y.buffer],
    workgroups: groups(n, WG),
  });
  return y;
}

/** Raw binary kernel with broadcasting (no autograd). `out` may alias neither input. */
export function binaryRaw(op: number, a: Tensor, b: Tensor, alpha = 0, beta = 0, out?: Tensor, name = 'binary'): Tensor {
  const shape = broadcastShapes(a.shape, b.shape, name);
  if (shape.length > MAX_RANK) throw new Error(`${name}: rank ${shape.length} > ${MAX_RANK}`);
  const y = out ?? empty(shape, 'f32');
  const bcast = !(sameShape(a.shape, shape) && sameShape(b.shape, shape));
  const v4 = !bcast && y.size % 4 === 0;
  const n = v4 ? y.size / 4 : y.size;
  const u = new Uniforms().u32(n, shape.length).f32(alpha, beta);
  u.vec4u(shape, 2).vec4u(broadcastStrides(a.shape, shape), 2).vec4u(broadcastStrides(b.shape, shape), 2);
  const WG = memoryLayout().wg;
  rt().dispatch({
    kernel: 'elementwise',
    entry: v4 ? 'binary4' : 'binary',
    constants: { OP: op, BCAST: bcast ? 1 : 0, WG },
    uniforms: u,
    buffers: [a.buffer, b.buffer, y.buffer],
    workgroups: groups(n, WG),
  });
  return y;
}

/** target = op(target, b) in place; same shapes, no autograd. */
export function binaryInPlace(op: number, target: Tensor, b: Tensor, alpha = 0, beta = 0): void {
  if (!sameShape(target.shape, b.shape)) throw new Error(`in-place op: shapes [${target.shape}] and [${b.shape}] differ`);
  const v4 = target.size % 4 === 0;
  const n = v4 ? target.size / 4 : target.size;
  const WG = memoryLayout().wg;
  rt().dispatch({
    kernel: 'elementwise',
    entry: v4 ? 'inplace4' : 'inplace',
    constants: { OP: op, WG },
    uniforms: new Uniforms().u32(n, 0).f32(alpha, beta),
    buffers: [null, b.buffer, target.buffer],
    workgroups: groups(n, WG),
  });
}

function binary(op: keyof typeof BinaryOp, a: Tensor, b: Tensor, grads: (g: Tensor, needs: readonly boolean[]) => (Tensor | null)[], saved: Tensor[]): Tensor {
  assertF32(a, op);
  assertF32(b, op);
  const y = binaryRaw(BinaryOp[op], a, b, 0, 0, undefined, op);
  return record(op, y, [a, b], grads, saved);
}

export function add(a: Tensor, b: Tensor): Tensor {
  return binary('add', a, b, (g, n) => [n[0] ? sumTo(g, a.shape) : null, n[1] ? sumTo(g, b.shape) : null], []);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  return binary('sub', a, b, (g, n) => [n[0] ? sumTo(g, a.shape) : null, n[1] ? sumTo(unaryRaw(UnaryOp.neg, g), b.shape, true) : null], []);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  return binary(
    'mul',
    a,
    b,
    (g, n) => [n[0] ? sumTo(binaryRaw(BinaryOp.mul, g, b), a.shape, true) : null, n[1] ? sumTo(binaryRaw(BinaryOp.mul, g, a), b.shape, true) : null],
    [a, b],
  );
}

export function div(a: Tensor, b: Tensor): Tensor {
  return binary(
    'div',
    a,
    b,
    (g, n) => {
      const ga = n[0] ? sumTo(binaryRaw(BinaryOp.div, g, b), a.shape, true) : null;
      let gb: Tensor | null = null;
      if (n[1]) {
        // d(a/b)/db = -a / b^2
        const q = binaryRaw(BinaryOp.div, a, b);
        const q2 = binaryRaw(BinaryOp.div, q, b);
        const t = binaryRaw(BinaryOp.mul, g, q2);
        gb = sumTo(unaryRaw(UnaryOp.neg, t), b.shape, true);
        q.dispose();
        q2.dispose();
        t.dispose();
      }
      return [ga, gb];
    },
    [a, b],
  );
}

/** Elementwise maximum; the gradient goes to `a` where a >= b, else to `b`. */
export function maximum(a: Tensor, b: Tensor): Tensor {
  assertF32(a, 'max');
  assertF32(b, 'max');
  const y = binaryRaw(BinaryOp.max, a, b, 0, 0, undefined, 'max');
  // the backward reuses the saved output instead of recomputing the maximum
  return record(
    'max',
    y,
    [a, b],
    (g, n) => {
      const ma = binaryRaw(BinaryOp.equal, a, y);
      const ga = n[0] ? sumTo(binaryRaw(BinaryOp.mul, g, ma), a.shape, true) : null;
      let gb: Tensor | null = null;
      if (n[1]) {
        const mb = unaryRaw(UnaryOp.affine, ma, -1, 1);
        gb = sumTo(binaryRaw(BinaryOp.mul, g, mb), b.shape, true);
        mb.dispose();
      }
      ma.dispose();
      return [ga, gb];
    },
    [a, b, y],
  );
}

function unary(op: keyof typeof UnaryOp, x: Tensor, alpha: number, beta: number, grad: (g: Tensor, y: Tensor) => Tensor, saveOut: boolean, saveIn: boolean): Tensor {
  assertF32(x, op);
  const y = unaryRaw(UnaryOp[op], x, alpha, beta);
  const saved = [...(saveIn ? [x] : []), ...(saveOut ? [y] : [])];
  return record(op, y, [x], (g) => [grad(g, y)], saved);
}

export function neg(x: Tensor): Tensor {
  return unary('neg', x, 0, 0, (g) => unaryRaw(UnaryOp.neg, g), false, false);
}
export function relu(x: Tensor): Tensor {
  return unary('relu', x, 0, 0, (g) => binaryRaw(BinaryOp.reluGrad, g, x), false, true);
}
export function sigmoid(x: Tensor): Tensor {
  return unary('sigmoid', x, 0, 0, (g, y) => binaryRaw(BinaryOp.sigmoidGrad, g, y), true, false);
}
export function tanh(x: Tensor): Tensor {
  return unary('tanh', x, 0, 0, (g, y) => binaryRaw(BinaryOp.tanhGrad, g, y), true, false);
}
export function exp(x: Tensor): Tensor {
  return unary('exp', x, 0, 0, (g, y) => binaryRaw(BinaryOp.mul, g, y), true, false);
}
export function log(x: Tensor): Tensor {
  return unary('log', x, 0, 0, (g) => binaryRaw(BinaryOp.div, g, x), false, true);
}
export function sqrt(x: Tensor): Tensor {
  // d sqrt(x) = g / (2 sqrt(x))
  return unary('sqrt', x, 0, 0, (g, y) => {
    const t = binaryRaw(BinaryOp.div, g, y);
    const r = unaryRaw(UnaryOp.affine, t, 0.5, 0);
    t.dispose();
    return r;
  }, true, false);
}
export function square(x: Tensor): Tensor {
  // d x^2 = 2 g x
  return unary('square', x, 0, 0, (g) => {
    const t = binaryRaw(BinaryOp.mul, g, x);
    const r = unaryRaw(UnaryOp.affine, t, 2, 0);
    t.dispose();
    return r;
  }, false, true);
}
/** Clamps to [lo, hi]; the gradient passes where lo <= x <= hi (PyTorch's convention). */
export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  return unary('clamp', x, lo, hi, (g) => binaryRaw(BinaryOp.clampGrad, g, x, lo, hi), false, true);
}
/** x * alpha + beta */
export function affine(x: Tensor, alpha: number, beta = 0): Tensor {
  return unary('affine', x, alpha, beta, (g) => unaryRaw(UnaryOp.affine, g, alpha, 0), false, false);
}
export function scale(x: Tensor, alpha: number): Tensor {
  return affine(x, alpha, 0);
}
