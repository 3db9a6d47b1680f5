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
 * Tiling for lavapipe (see the kernels): the workgroup owns R rows of the GEMM (the gathered
 * operand, read at workgroup-uniform addresses), each invocation one vec4 group of columns and
 * R vec4 accumulators; the other operand is a per-invocation vec4 load. Fast paths need
 * Cout % 4 == 0 (dx: Cin % 4 == 0 too); other shapes use the generic kernels (one invocation
 * per output element).
 * `setConvVariant('generic' | 'fast' | 'auto')` or REFINE_CONV_VARIANT forces a path for tests
 * ('fast' still falls back where the fast kernel cannot run).
 */
import { rt } from '../tensor/device.js';
import { empty, view, type Tensor } from '../tensor/tensor.js';
import { stridedCopy } from './copy.js';
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
const GEN_WG = 64;
/** fast kernels: invocations per workgroup (vec4 column groups) and rows per workgroup */
const FAST_WG = 16;
const FAST_R = 8;

/** [x, y, z] workgroups for `tiles` row tiles (folded into x + y * nwg.x) and `z` column tiles. */
function grid(tiles: number, z: number): [number, number, number] {
  const y = Math.ceil(tiles / MAX_WG_DIM);
  return [Math.ceil(tiles / y), y, z];
}

function useFast(ok: boolean): boolean {
  return variant !== 'generic' && ok;
}

function geoUniforms(g: Geo, M: number): Uniforms {
  return new Uniforms().u32(g.N, g.H, g.W, g.C, g.OH, g.OW, g.CO, g.KH, g.KW, g.S, g.P, M);
}

function fwdRaw(x: Tensor, w: Tensor, bias: Tensor | null, g: Geo): Tensor {
  const out = empty([g.N, g.OH, g.OW, g.CO]);
  const M = g.N * g.OH * g.OW;
  if (out.size === 0) return out;
  const hasBias = bias ? 1 : 0;
  if (useFast(g.CO % 4 === 0)) {
    rt().dispatch({
      kernel: 'conv2d_fwd_fast',
      entry: g.C % 4 === 0 ? 'main_vec' : 'main',
      constants: { WG: FAST_WG, R: FAST_R, CV: 1, HAS_BIAS: hasBias },
      uniforms: geoUniforms(g, M).u32(0, 0, 0, 0),
      buffers: [x.buffer, w.buffer, (bias ?? w).buffer, out.buffer],
      workgroups: grid(Math.ceil(M / FAST_R), Math.ceil(g.CO / 4 / FAST_WG)),
    });
  } else {
    rt().dispatch({
      kernel: 'conv2d_generic',
      entry: 'fwd',
      constants: { WG: GEN_WG, HAS_BIAS: hasBias },
      uniforms: geoUniforms(g, M).u32(out.size, 0, 1, 0),
      buffers: [x.buffer, w.buffer, (bias ?? w).buffer, out.buffer],
      workgroups: grid(Math.ceil(out.size / GEN_WG), 1),
    });
  }
  return out;
}

function dgradRaw(dy: Tensor, w: Tensor, g: Geo): Tensor {
  const dx = empty([g.N, g.H, g.W, g.C]);
  if (dx.size === 0) return dx;
  if (useFast(g.C % 4 === 0 && g.CO % 4 === 0)) {
    // wT [KH, KW, CO, C]: the per-invocation operand must be contiguous along Cin
    const wt = empty([g.KH, g.KW, g.CO, g.C]);
    stridedCopy(w, wt, [g.KH, g.KW, g.CO, g.C], [g.KW * g.C * g.CO, g.C * g.CO, 1, g.CO], [g.KW * g.CO * g.C, g.CO * g.C, g.C, 1]);
    for (let phH = 0; phH < Math.min(g.S, g.H); phH++) {
      for (let phW = 0; phW < Math.min(g.S, g.W); phW++) {
        const HP = Math.ceil((g.H - phH) / g.S);
        const WP = Math.ceil((g.W - phW) / g.S);
        const M = g.N * HP * WP;
        rt().dispatch({
          kernel: 'conv2d_dgrad_fast',
          constants: { WG: FAST_WG, R: FAST_R },
          uniforms: geoUniforms(g, M).u32(phH, phW, HP, WP),
          buffers: [dy.buffer, wt.buffer, dx.buffer],
          workgroups: grid(Math.ceil(M / FAST_R), Math.ceil(g.C / 4 / FAST_WG)),
        });
      }
    }
    wt.dispose();
  } else {
    rt().dispatch({
      kernel: 'conv2d_generic',
      entry: 'dgrad',
      constants: { WG: GEN_WG },
      uniforms: geoUniforms(g, g.N * g.OH * g.OW).u32(dx.size, 0, 1, 0),
      buffers: [dy.buffer, w.buffer, null, dx.buffer],
      workgroups: grid(Math.ceil(dx.size / GEN_WG), 1),
    });
  }
  return dx;
}

/** Workgroups a dispatch should have at least so that both cores stay busy (with slack). */
const MIN_WGS = 64;
/** Smallest pixel slice of one split-K part. */
const MIN_CHUNK = 64;

function wgradRaw(x: Tensor, dy: Tensor, g: Geo): Tensor {
  const M = g.N * g.OH * g.OW;
  const total = g.KH * g.KW * g.C * g.CO;
  const fast = useFast(g.CO % 4 === 0);
  const wgs = fast ? g.KH * g.KW * Math.ceil(g.C / FAST_R) * Math.ceil(g.CO / 4 / FAST_WG) : Math.ceil(total / GEN_WG);
  const splits = Math.max(1, Math.min(Math.ceil(MIN_WGS / wgs), Math.ceil(M / MIN_CHUNK), 64));
  const chunk = Math.ceil(M / splits);
  const part = empty(splits === 1 ? [g.KH, g.KW, g.C, g.CO] : [splits, total]);
  if (fast) {
    const ctiles = Math.ceil(g.C / FAST_R);
    rt().dispatch({
      kernel: 'conv2d_wgrad_fast',
      entry: g.C % 4 === 0 ? 'main_vec' : 'main',
      constants: { WG: FAST_WG, R: FAST_R },
      uniforms: geoUniforms(g, M).u32(chunk, ctiles, 0, 0),
      buffers: [x.buffer, dy.buffer, part.buffer],
      workgroups: grid(splits * g.KH * g.KW * ctiles, Math.ceil(g.CO / 4 / FAST_WG)),
    });
  } else {
    rt().dispatch({
      kernel: 'conv2d_generic',
      entry: 'wgrad',
      constants: { WG: GEN_WG },
      uniforms: geoUniforms(g, M).u32(total, chunk, splits, 0),
      buffers: [x.buffer, dy.buffer, null, part.buffer],
      workgroups: grid(Math.ceil((total * splits) / GEN_WG), 1),
    });
  }
  if (splits === 1) return part;
  // deterministic second pass: sum the split-K partials
  const r = reduceRaw(part, [0], 'sum', false, false);
  part.dispose();
  const v = view(r, [g.KH, g.KW, g.C, g.CO]);
  r.dispose();
  return v;
}

function dbiasRaw(dy: Tensor, g: Geo): Tensor {
  const r = reduceRaw(dy, [0, 1, 2], 'sum', false, false);
  const v = view(r, [g.CO]);
  r.dispose();
  return v;
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
    (dy, needs) => {
      const r = [needs[0] ? dgradRaw(dy, w, g) : null, needs[1] ? wgradRaw(x, dy, g) : null];
      if (bias) r.push(needs[2] ? dbiasRaw(dy, g) : null);
      return r;
    },
    [x, w],
  );
}

/** Raw kernels without autograd (benchmarks): the forward, dx, dw and dbias of a conv2d. */
export const conv2dRaw = {
  forward(x: Tensor, w: Tensor, bias: Tensor | null, opts: Conv2dOptions = {}): Tensor {
    return fwdRaw(x, w, bias, geometry(x, w, bias, opts));
  },
  dx(dy: Tensor, x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
    return dgradRaw(dy, w, checkDy(dy, geometry(x, w, null, opts)));
  },
  dw(dy: Tensor, x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
    return wgradRaw(x, dy, checkDy(dy, geometry(x, w, null, opts)));
  },
  dbias(dy: Tensor, x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
    return dbiasRaw(dy, checkDy(dy, geometry(x, w, null, opts)));
  },
};

function checkDy(dy: Tensor, g: Geo): Geo {
  const want = [g.N, g.OH, g.OW, g.CO];
  if (dy.rank !== 4 || dy.shape.some((d, i) => d !== want[i])) throw new Error(`conv2d backward: dy must be [${want}], got [${dy.shape}]`);
  return g;
}
