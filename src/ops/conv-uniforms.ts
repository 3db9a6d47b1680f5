/**
 * The uniforms of the conv kernels, declared once on each side: the 12 geometry fields every
 * conv kernel starts with (kernels/lib/conv_geo.wgsl) and, per kernel, the named fields after
 * them. convUniforms writes them by name in the declared order and zero-pads to the 16 fields
 * of every conv kernel's `struct U`; test/ops/uniform-layouts.test.ts checks these lists against
 * the WGSL, so a field added on one side only fails a test instead of shifting every value.
 */
import { Uniforms } from '../tensor/uniforms.js';
import type { Geo } from './conv-plan.js';

export const CONV_GEO_FIELDS = ['N', 'H', 'W', 'C', 'OH', 'OW', 'CO', 'KH', 'KW', 'S', 'P', 'M'] as const;

/** Fields after the geometry, per kernel, in the order of its struct (the rest up to 16 are padding). */
export const CONV_UNIFORM_EXTRAS = {
  conv2d_fwd_sg: [],
  conv2d_fwd_fast: [],
  conv2d_generic: ['total', 'chunk', 'splits'],
  conv2d_dgrad_sg: ['phH', 'phW', 'HP', 'WP'],
  conv2d_dgrad_fast: ['phH', 'phW', 'HP', 'WP'],
  conv2d_wgrad_sg: ['chunk', 'ctiles'],
  conv2d_wgrad_fast: ['chunk', 'ctiles'],
  conv2d_tiled: ['chunk', 'rtiles', 'splits'],
} as const;

export type ConvKernel = keyof typeof CONV_UNIFORM_EXTRAS;

/** Total u32 fields of a conv kernel's uniforms (geometry + extras + padding). */
export const CONV_UNIFORM_FIELDS = 16;

/** The uniforms of `kernel` for geometry `g` with M rows and its named extra fields. */
export function convUniforms<K extends ConvKernel>(kernel: K, g: Geo, M: number, extras: { [F in (typeof CONV_UNIFORM_EXTRAS)[K][number]]: number }): Uniforms {
  const u = new Uniforms().u32(g.N, g.H, g.W, g.C, g.OH, g.OW, g.CO, g.KH, g.KW, g.S, g.P, M);
  const names = CONV_UNIFORM_EXTRAS[kernel] as readonly string[];
  for (const f of names) u.u32((extras as Record<string, number>)[f]!);
  for (let i = CONV_GEO_FIELDS.length + names.length; i < CONV_UNIFORM_FIELDS; i++) u.u32(0);
  return u;
}
