/**
 * Which kernel runs a convolution and how (src/ops/conv.ts dispatches what this decides), in one
 * place: `planForward`, `planDgrad`, `planWgrad` and `thinInputPadding` take the geometry and a
 * policy (the forced variant, the autotuned family, the adapter's subgroup size) and return the
 * kernel family, entry point and grid. Pure: the plans are unit-tested without a device.
 *
 * Families (docs/engine.md, "Kernel variants"): 'subgroup' (lavapipe: one 8-lane subgroup per
 * workgroup sharing the gathered operand by subgroupBroadcast), 'fast' (vec4 columns, R rows per
 * workgroup), 'generic' (one invocation per output, any shape), 'tiled' (64×64 blocks through
 * workgroup memory, for real GPUs). 'auto' takes the autotuned family when `autotune()` measured
 * one, else subgroup where the device's subgroup is 8 lanes and the shape qualifies, then fast,
 * then generic; a forced 'subgroup' falls back to 'fast' and 'fast' to 'generic' where the kernel
 * cannot run.
 */
import { rt } from '../tensor/device.js';
import { tunedVariant, variantSwitch } from './tuning.js';

export type ConvVariant = 'auto' | 'fast' | 'generic' | 'subgroup' | 'tiled';
export const CONV_VARIANTS: readonly ConvVariant[] = ['auto', 'fast', 'generic', 'subgroup', 'tiled'];

const forced = variantSwitch('setConvVariant', 'REFINE_CONV_VARIANT', CONV_VARIANTS);

/** Forces the kernel variant of conv2d and its gradients ('auto' picks per shape); REFINE_CONV_VARIANT sets it at start. */
export function setConvVariant(v: ConvVariant): void {
  forced.set(v);
}
export function getConvVariant(): ConvVariant {
  return forced.get();
}

/** What the plans depend on besides the geometry. */
export interface ConvPolicy {
  variant: ConvVariant;
  /** the family autotune() measured fastest on this adapter (only read under 'auto') */
  tuned?: string;
  subgroupSize: number;
}

/** The policy in force: the forced variant, the autotuned family and the device's subgroup size. */
export function currentPolicy(): ConvPolicy {
  const variant = forced.get();
  return { variant, tuned: variant === 'auto' ? tunedVariant('conv') : undefined, subgroupSize: rt().subgroupSize };
}

export interface Geo {
  N: number; H: number; W: number; C: number;
  OH: number; OW: number; CO: number; KH: number; KW: number; S: number; P: number;
}

const MAX_WG_DIM = 32768;
export const GEN_WG = 64;
/** fast kernels: invocations per workgroup (vec4 column groups) and rows per workgroup */
export const FAST_WG = 16;
export const FAST_R = 8;
/** subgroup kernels: pixels (fwd, dx) per row set of a workgroup */
const SG_R = 32;
/** weight-broadcast entries (`main_wb`, 16-column tiles): pixels per workgroup (8 lanes x 4) */
const SG_WB_ROWS = 32;
/** Workgroups a dispatch should have at least so that both cores stay busy (with slack). */
const MIN_WGS = 64;
/** Smallest pixel slice of one split-K part. */
const MIN_CHUNK = 64;
/** output block of the tiled kernels (rows x columns) */
export const TILE = 64;
/** tiled weight gradient: split K (the pixels) until there are this many workgroups (a GPU's SMs x 2) */
const TILED_MIN_WGS = 256;

export type Grid = [number, number, number];

/** [x, y, z] workgroups for `tiles` row tiles (folded into x + y * nwg.x) and `z` column tiles. */
export function grid(tiles: number, z: number): Grid {
  const y = Math.ceil(tiles / MAX_WG_DIM);
  return [Math.ceil(tiles / y), y, z];
}

const tiled = (p: ConvPolicy) => p.variant === 'tiled' || p.tuned === 'tiled';
const fast = (p: ConvPolicy, ok: boolean) => p.variant !== 'generic' && ok;
/** Whether the subgroup kernels may run (the device's subgroup is the 8-lane workgroup). */
const subgroup = (p: ConvPolicy, ok: boolean) => (p.variant === 'subgroup' || (p.variant === 'auto' && p.tuned === undefined) || p.tuned === 'subgroup') && ok && p.subgroupSize === 8;

/** Row sets of a subgroup kernel for `cols` GEMM columns: 1 (32-column tiles), 2 (16), 0 (no). */
function sgSets(cols: number): number {
  return cols % 32 === 0 ? 1 : cols % 16 === 0 ? 2 : 0;
}

/**
 * fwd/dx subgroup entry: 32-column tiles take main_ns1, 16-column tiles main_wb (the weights
 * are broadcast instead of splitting the lanes into two row sets: 20-40% faster at 16 channels).
 */
function sgEntry(ns: number): { entry: string; rows: number } {
  return ns === 1 ? { entry: 'main_ns1', rows: SG_R } : { entry: 'main_wb', rows: SG_WB_ROWS };
}

/**
 * Cin 1-3 (grey or RGB images) has no vec4 path: the input channels to zero-pad x and w to (4, or
 * 8 when Cout takes 16-column tiles: their weight-gradient kernel needs Cin % 8 == 0), or 0 when
 * the convolution runs as it is (the generic and tiled kernels take any Cin).
 */
export function thinInputPadding(g: Pick<Geo, 'C' | 'CO'>, p: ConvPolicy): number {
  if (g.C >= 4 || p.variant === 'generic' || tiled(p)) return 0;
  return g.CO % 32 === 0 ? 4 : 8;
}

export type FwdPlan =
  | { family: 'tiled' }
  | { family: 'subgroup'; entry: string; workgroups: Grid }
  | { family: 'fast'; entry: 'main_vec' | 'main'; workgroups: Grid }
  | { family: 'generic'; workgroups: Grid };

/** The forward convolution (M = N·OH·OW output pixels, `size` output elements). */
export function planForward(g: Geo, p: ConvPolicy): FwdPlan {
  const M = g.N * g.OH * g.OW;
  if (tiled(p)) return { family: 'tiled' };
  const ns = sgSets(g.CO);
  if (subgroup(p, ns > 0 && g.C % 4 === 0)) {
    const { entry, rows } = sgEntry(ns);
    return { family: 'subgroup', entry, workgroups: grid(Math.ceil(M / rows), g.CO / (32 / ns)) };
  }
  if (fast(p, g.CO % 4 === 0)) return { family: 'fast', entry: g.C % 4 === 0 ? 'main_vec' : 'main', workgroups: grid(Math.ceil(M / FAST_R), Math.ceil(g.CO / 4 / FAST_WG)) };
  return { family: 'generic', workgroups: grid(Math.ceil((M * g.CO) / GEN_WG), 1) };
}

export type DgradPlan =
  | { family: 'tiled' }
  /** stride 1: dx = conv(dy, flipConvWeights(w), padding K−1−P) on the forward kernel */
  | { family: 'forward-flipped'; geo: Geo }
  /** one dispatch per stride phase (ph, pw) with `workgroups(M)` for its M rows */
  | { family: 'subgroup'; entry: string; workgroups: (m: number) => Grid }
  | { family: 'fast'; workgroups: (m: number) => Grid }
  | { family: 'generic'; workgroups: Grid };

/** The input gradient. */
export function planDgrad(g: Geo, p: ConvPolicy): DgradPlan {
  if (tiled(p)) return { family: 'tiled' };
  if (g.S === 1 && g.KH === g.KW && g.P < g.KH && subgroup(p, sgSets(g.C) > 0 && g.CO % 4 === 0)) {
    // 3-13% faster than the dgrad kernel on lavapipe (measured side by side at 16-512 channels,
    // 4²-28²); stride 2 keeps the phase-split dgrad kernel (no zero-stuffed dy)
    return { family: 'forward-flipped', geo: { N: g.N, H: g.OH, W: g.OW, C: g.CO, OH: g.H, OW: g.W, CO: g.C, KH: g.KH, KW: g.KW, S: 1, P: g.KH - 1 - g.P } };
  }
  const ns = sgSets(g.C);
  // Cin 4-12 (the zero-padded stem of a grey/RGB image): main_wb1, one 4-column tile per z
  const narrow = ns === 0 && g.C % 4 === 0 && g.C < 16;
  if (subgroup(p, (ns > 0 || narrow) && g.CO % 4 === 0)) {
    const { entry, rows } = narrow ? { entry: 'main_wb1', rows: SG_WB_ROWS } : sgEntry(ns);
    return { family: 'subgroup', entry, workgroups: (m) => grid(Math.ceil(m / rows), narrow ? g.C / 4 : g.C / (32 / ns)) };
  }
  if (fast(p, g.C % 4 === 0 && g.CO % 4 === 0)) return { family: 'fast', workgroups: (m) => grid(Math.ceil(m / FAST_R), Math.ceil(g.C / 4 / FAST_WG)) };
  return { family: 'generic', workgroups: grid(Math.ceil((g.N * g.H * g.W * g.C) / GEN_WG), 1) };
}

export interface WgradPlan {
  family: 'tiled' | 'subgroup' | 'fast' | 'generic';
  /** kernel entry (subgroup: main_ns{ns}_r{rc}; fast: main_vec or main) */
  entry?: string;
  /** split-K: the pixels are cut into `splits` slices of `chunk`, summed by a second pass */
  splits: number;
  chunk: number;
  /** column tiles of the ci rows (subgroup and fast) */
  ctiles: number;
  workgroups: Grid;
}

/** The weight gradient (M = N·OH·OW pixels are the reduction, split so that both cores stay busy). */
export function planWgrad(g: Geo, p: ConvPolicy): WgradPlan {
  const M = g.N * g.OH * g.OW;
  const total = g.KH * g.KW * g.C * g.CO;
  if (tiled(p)) {
    const wgs = Math.ceil((g.KH * g.KW * g.C) / TILE) * Math.ceil(g.CO / TILE);
    const s = Math.max(1, Math.min(Math.ceil(TILED_MIN_WGS / wgs), Math.ceil(M / (4 * TILE)), 64));
    const chunk = Math.max(1, Math.ceil(M / s));
    const splits = Math.max(1, Math.ceil(M / chunk));
    return { family: 'tiled', splits, chunk, ctiles: 0, workgroups: grid(Math.ceil((g.KH * g.KW * g.C) / TILE) * splits, Math.ceil(g.CO / TILE)) };
  }
  const ns = sgSets(g.CO);
  // ci rows per row set of the subgroup kernel: the largest of 32, 16, 8, 4 with C % (rc * ns) == 0
  const rc = [32, 16, 8, 4].find((r) => ns > 0 && g.C % (r * ns) === 0) ?? 0;
  const sg = subgroup(p, rc > 0);
  const fa = !sg && fast(p, g.CO % 4 === 0);
  const wgs = sg ? g.KH * g.KW * (g.C / (rc * ns)) * (g.CO / (32 / ns)) : fa ? g.KH * g.KW * Math.ceil(g.C / FAST_R) * Math.ceil(g.CO / 4 / FAST_WG) : Math.ceil(total / GEN_WG);
  let splits = Math.max(1, Math.min(Math.ceil(MIN_WGS / wgs), Math.ceil(M / MIN_CHUNK), 64));
  // the subgroup kernel walks its slice in blocks of 8 pixels
  const chunk = sg ? Math.ceil(M / splits / 8) * 8 : Math.ceil(M / splits);
  splits = Math.ceil(M / chunk);
  if (sg) {
    const ctiles = g.C / (rc * ns);
    return { family: 'subgroup', entry: `main_ns${ns}_r${rc}`, splits, chunk, ctiles, workgroups: grid(splits * g.KH * g.KW * ctiles, g.CO / (32 / ns)) };
  }
  if (fa) {
    const ctiles = Math.ceil(g.C / FAST_R);
    return { family: 'fast', entry: g.C % 4 === 0 ? 'main_vec' : 'main', splits, chunk, ctiles, workgroups: grid(splits * g.KH * g.KW * ctiles, Math.ceil(g.CO / 4 / FAST_WG)) };
  }
  return { family: 'generic', splits, chunk, ctiles: 0, workgroups: grid(Math.ceil((total * splits) / GEN_WG), 1) };
}
