/**
 * conv2d (NHWC activations, HWIO weights [KH, KW, Cin, Cout], bias [Cout]) with its three
 * gradients, all implicit GEMMs (kernels/conv2d_*.wgsl):
 * - forward: rows = output pixels, columns = Cout, reduction over (kh, kw, ci);
 * - dx: rows = input pixels of one stride phase (ih % s, iw % s), so that the taps that reach a
 *   row are the same for the whole dispatch (stride 2 wastes no work), columns = Cin, reduction
 *   over (valid kh, valid kw, co);
 * - dw: rows = ci for one tap (kh, kw) per workgroup (padding checks are workgroup-uniform),
 *   columns = Cout, reduction over the N*OH*OW pixels split into K slices written to a partial
 *   buffer and summed by a deterministic second pass (no atomics);
 * - dbias: a sum of dy over N, OH, OW.
 *
 * Tiling for lavapipe (see the kernels): each invocation owns output rows, the workgroup owns a
 * tile of 4*TC columns; the weights / dy columns are read at workgroup-uniform addresses and
 * only the gathered operand is a per-invocation load. `setConvVariant('generic')` forces the
 * simplest tiling (one row and one vec4 column per invocation, scalar loads) for testing.
 */
import { rt } from '../tensor/device.js';
import { empty, view, type Tensor } from '../tensor/tensor.js';
import { Uniforms } from '../tensor/uniforms.js';
import { record } from '../autograd/tape.js';
import { assertF32 } from './util.js';
import { reduceRaw } from './reduce.js';

export type ConvVariant = 'auto' | 'fast' | 'generic';

let variant: ConvVariant = ((): ConvVariant => {
  const v = typeof process !== 'undefined' ? process.env?.REFINE_CONV_VARIANT : undefined;
  return v === 'fast' || v === 'generic' ? v : 'auto';
})();

/** Forces the kernel variant of conv2d and its gradients ('auto' picks per shape). */
export function setConvVariant(v: ConvVariant): void {
  if (v !== 'auto' && v !== 'fast' && v !== 'generic') throw new Error(`setConvVariant: unknown variant '${String(v)}'`);
  variant = v;
}
export function getConvVariant(): ConvVariant {
  return variant;
}

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
}

interface Geo {
  N: number; H: number; W: number; C: number;
  OH: number; OW: number; CO: number; KH: number; KW: number; S: number; P: number;
}

const MAX_WG_DIM = 32768;

/** [x, y, z] workgroups for `tiles` row tiles (folded into x + y * nwg.x) and `z` column tiles. */
function grid(tiles: number, z: number): [number, number, number] {
  const y = Math.ceil(tiles / MAX_WG_DIM);
  return [Math.ceil(tiles / y), y, z];
}

interface Tiling { WG: number; TR: number; TC: number; vec: boolean }

function fwdTiling(g: Geo): Tiling {
  if (variant === 'generic') return { WG: 8, TR: 1, TC: 1, vec: false };
  return { WG: 16, TR: 1, TC: Math.min(8, Math.ceil(g.CO / 4)), vec: g.C % 4 === 0 };
}

function fwdRaw(x: Tensor, w: Tensor, bias: Tensor | null, g: Geo): Tensor {
  const out = empty([g.N, g.OH, g.OW, g.CO]);
  const M = g.N * g.OH * g.OW;
  if (out.size === 0) return out;
  const t = fwdTiling(g);
  const u = new Uniforms().u32(g.N, g.H, g.W, g.C, g.OH, g.OW, g.CO, g.KH, g.KW, g.S, g.P, M, w.size - 1, 0, 0, 0);
  rt().dispatch({
    kernel: 'conv2d_fwd',
    entry: t.vec ? 'main_vec' : 'main',
    constants: { WG: t.WG, TR: t.TR, TC: t.TC, HAS_BIAS: bias ? 1 : 0 },
    uniforms: u,
    buffers: [x.buffer, w.buffer, (bias ?? w).buffer, out.buffer],
    workgroups: grid(Math.ceil(M / (t.WG * t.TR)), Math.ceil(g.CO / (4 * t.TC))),
  });
  return out;
}

function geometry(x: Tensor, w: Tensor, bias: Tensor | null | undefined, opts: Conv2dOptions): Geo {
  const S = opts.stride ?? 1;
  const P = opts.padding ?? 0;
  const desc = `x [${x.shape}], w [${w.shape}]${bias ? `, bias [${bias.shape}]` : ''}, stride ${S}, padding ${P}`;
  if (x.rank !== 4) throw new Error(`conv2d: x must be NHWC (rank 4); got ${desc}`);
  if (w.rank !== 4) throw new Error(`conv2d: w must be [KH, KW, Cin, Cout] (rank 4); got ${desc}`);
  if (!Number.isInteger(S) || S < 1) throw new Error(`conv2d: stride must be a positive integer; got ${desc}`);
  if (!Number.isInteger(P) || P < 0) throw new Error(`conv2d: padding must be a non-negative integer; got ${desc}`);
  const [N, H, W, C] = x.shape as [number, number, number, number];
  const [KH, KW, CI, CO] = w.shape as [number, number, number, number];
  if (CI !== C) throw new Error(`conv2d: x has ${C} input channels but w expects ${CI}; got ${desc}`);
  if (KH < 1 || KW < 1 || CO < 1 || C < 1) throw new Error(`conv2d: empty kernel or channel dimension; got ${desc}`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== CO)) throw new Error(`conv2d: bias must be [${CO}]; got ${desc}`);
  const OH = Math.floor((H + 2 * P - KH) / S) + 1;
  const OW = Math.floor((W + 2 * P - KW) / S) + 1;
  if (OH < 1 || OW < 1) throw new Error(`conv2d: the kernel is larger than the padded input (output ${OH}x${OW}); got ${desc}`);
  return { N, H, W, C, OH, OW, CO, KH, KW, S, P };
}

/** 2-D convolution: x [N, H, W, Cin], w [KH, KW, Cin, Cout], bias [Cout] -> [N, OH, OW, Cout]. */
export function conv2d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  assertF32(x, 'conv2d');
  assertF32(w, 'conv2d');
  if (bias) assertF32(bias, 'conv2d');
  const g = geometry(x, w, bias, opts);
  const y = fwdRaw(x, w, bias ?? null, g);
  const inputs = bias ? [x, w, bias] : [x, w];
  return record(
    'conv2d',
    y,
    inputs,
    (dy, needs) => [needs[0] ? dgradRaw(dy, w, g) : null, needs[1] ? wgradRaw(x, dy, g) : null, needs[2] ? dbiasRaw(dy, g) : null].slice(0, inputs.length),
    [x, w],
  );
}

export function conv2dDgrad(dy: Tensor, w: Tensor, g: Geo): Tensor {
  return dgradRaw(dy, w, g);
}

function dgradRaw(dy: Tensor, w: Tensor, g: Geo): Tensor {
  void dy; void w;
  throw new Error(`conv2d dgrad not implemented ${g.N}`);
}

function wgradRaw(x: Tensor, dy: Tensor, g: Geo): Tensor {
  void dy; void x;
  throw new Error(`conv2d wgrad not implemented ${g.N}`);
}

function dbiasRaw(dy: Tensor, g: Geo): Tensor {
  const r = reduceRaw(dy, [0, 1, 2], 'sum', false, false);
  const v = view(r, [g.CO]);
  r.dispose();
  return v;
}
