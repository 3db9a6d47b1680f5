/** Max and average pooling over NHWC activations (kernels/pool.wgsl). */
import { rt } from '../tensor/device.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { Uniforms } from '../tensor/uniforms.js';
import { record } from '../autograd/tape.js';
import { assertF32, groups } from './util.js';

const WG = 64;

interface PoolGeom {
  N: number; H: number; W: number; C: number; OH: number; OW: number;
  KH: number; KW: number; SH: number; SW: number; PH: number; PW: number;
}

function poolUniforms(g: PoolGeom, total: number, scale = 1): Uniforms {
  return new Uniforms().u32(g.N, g.H, g.W, g.C, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, total).f32(scale).u32(0, 0);
}

function nhwc(x: Tensor, op: string): [number, number, number, number] {
  assertF32(x, op);
  if (x.rank !== 4) throw new Error(`${op}: x must be NHWC [N, H, W, C], got [${x.shape}]`);
  return [x.shape[0]!, x.shape[1]!, x.shape[2]!, x.shape[3]!];
}

function posInt(v: number, what: string, op: string, min = 1): number {
  if (!Number.isInteger(v) || v < min) throw new Error(`${op}: ${what} must be an integer >= ${min}, got ${v}`);
  return v;
}

export interface MaxPoolOptions {
  /** square window, default 2 */
  kernel?: number;
  /** default = kernel */
  stride?: number;
  /** implicit −inf padding on every side, default 0 (at most kernel/2, like PyTorch) */
  padding?: number;
}

/**
 * PyTorch MaxPool2d (floor mode) on x [N, H, W, C] → [N, OH, OW, C] with
 * OH = floor((H + 2p − k)/s) + 1. The gradient is routed to the (first) argmax of each window.
 */
export function maxPool2d(x: Tensor, opts: MaxPoolOptions = {}): Tensor {
  const op = 'maxPool2d';
  const [N, H, W, C] = nhwc(x, op);
  const k = posInt(opts.kernel ?? 2, 'kernel', op);
  const s = posInt(opts.stride ?? k, 'stride', op);
  const p = posInt(opts.padding ?? 0, 'padding', op, 0);
  if (2 * p > k) throw new Error(`${op}: padding ${p} must be at most half the kernel ${k}`);
  const OH = Math.floor((H + 2 * p - k) / s) + 1;
  const OW = Math.floor((W + 2 * p - k) / s) + 1;
  if (OH < 1 || OW < 1) throw new Error(`${op}: input [${x.shape}] is too small for kernel ${k}, stride ${s}, padding ${p}`);
  const g: PoolGeom = { N, H, W, C, OH, OW, KH: k, KW: k, SH: s, SW: s, PH: p, PW: p };
  const y = empty([N, OH, OW, C]);
  const arg = empty([N, OH, OW, C], 'i32');
  // channels % 4 == 0: one invocation per 4 channels (vec4 loads)
  const v = C % 4 === 0 ? 4 : 1;
  const sfx = v === 4 ? '4' : '';
  rt().dispatch({ kernel: 'pool', entry: `max_fwd${sfx}`, uniforms: poolUniforms(g, y.size / v), buffers: [x.buffer, y.buffer, arg.buffer], workgroups: groups(y.size / v, WG) });
  const out = record(
    op,
    y,
    [x],
    (dy) => {
      const dx = empty(x.shape);
      rt().dispatch({ kernel: 'pool', entry: `max_bwd${sfx}`, uniforms: poolUniforms(g, dx.size / v), buffers: [dy.buffer, dx.buffer, arg.buffer], workgroups: groups(dx.size / v, WG) });
      return [dx];
    },
    [arg],
  );
  arg.dispose();
  return out;
}

function avgPoolImpl(x: Tensor, KH: number, KW: number, op: string, flatOut = false): Tensor {
  const [N, H, W, C] = nhwc(x, op);
  const OH = Math.floor(H / KH);
  const OW = Math.floor(W / KW);
  if (OH < 1 || OW < 1) throw new Error(`${op}: input [${x.shape}] is smaller than the window ${KH}x${KW}`);
  const g: PoolGeom = { N, H, W, C, OH, OW, KH, KW, SH: KH, SW: KW, PH: 0, PW: 0 };
  const scale = 1 / (KH * KW);
  // the global pool writes [N, C] directly (the same memory as [N, 1, 1, C])
  const y = empty(flatOut ? [N, C] : [N, OH, OW, C]);
  rt().dispatch({ kernel: 'pool', entry: 'avg_fwd', uniforms: poolUniforms(g, y.size, scale), buffers: [x.buffer, y.buffer], workgroups: groups(y.size, WG) });
  return record(op, y, [x], (dy) => {
    const dx = empty(x.shape);
    rt().dispatch({ kernel: 'pool', entry: 'avg_bwd', uniforms: poolUniforms(g, dx.size, scale), buffers: [dy.buffer, dx.buffer], workgroups: groups(dx.size, WG) });
    return [dx];
  });
}

/** Average pooling with a square window and stride = kernel, no padding (floor semantics). */
export function avgPool2d(x: Tensor, kernel: number): Tensor {
  posInt(kernel, 'kernel', 'avgPool2d');
  return avgPoolImpl(x, kernel, kernel, 'avgPool2d');
}

/** Mean over H and W: [N, H, W, C] → [N, C]. */
export function globalAvgPool(x: Tensor): Tensor {
  const [, H, W] = nhwc(x, 'globalAvgPool');
  if (H === 0 || W === 0) throw new Error(`globalAvgPool: empty spatial dims in [${x.shape}]`);
  return avgPoolImpl(x, H, W, 'globalAvgPool', true);
}
