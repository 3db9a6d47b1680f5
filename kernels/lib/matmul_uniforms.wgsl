// The uniforms of every matmul kernel (matmul, matmul_sg, matmul_tiled), included by
// scripts/bundle-kernels.mjs; filled by name by matmulUniforms in src/ops/matmul-uniforms.ts
// (test/ops/uniform-layouts.test.ts compares the two): C is M×N with reduction K, split in
// `splits` chunks of kChunk; nb batches of rank ≤ 8 (shape `bshape`, element strides of A and B
// per batch dim `abstr` / `bbstr`, 0 where broadcast); C is scaled by alpha.
struct U {
  M: u32, N: u32, K: u32, kChunk: u32,
  nb: u32, splits: u32, rank: u32, alpha: f32,
  bshape: array<vec4u, 2>,
  abstr: array<vec4u, 2>,
  bbstr: array<vec4u, 2>,
};
