/**
 * The uniforms of the matmul kernels, declared once on each side: `struct U` in
 * kernels/lib/matmul_uniforms.wgsl (included by matmul, matmul_sg and matmul_tiled) and
 * matmulUniforms here, which writes the fields by name in the same order;
 * test/ops/uniform-layouts.test.ts compares MATMUL_UNIFORM_FIELDS with the WGSL.
 */
import { Uniforms } from '../tensor/uniforms.js';

export const MATMUL_UNIFORM_FIELDS = ['M', 'N', 'K', 'kChunk', 'nb', 'splits', 'rank', 'alpha', 'bshape', 'abstr', 'bbstr'] as const;

export interface MatmulUniformValues {
  M: number;
  N: number;
  K: number;
  kChunk: number;
  nb: number;
  splits: number;
  rank: number;
  alpha: number;
  /** batch shape and the per-dimension element strides of A and B (rank ≤ 8; empty when rank is 0) */
  bshape?: readonly number[];
  abstr?: readonly number[];
  bbstr?: readonly number[];
}

export function matmulUniforms(v: MatmulUniformValues): Uniforms {
  return new Uniforms()
    .u32(v.M, v.N, v.K, v.kChunk, v.nb, v.splits, v.rank)
    .f32(v.alpha)
    .vec4u(v.bshape ?? [], 2)
    .vec4u(v.abstr ?? [], 2)
    .vec4u(v.bbstr ?? [], 2);
}
