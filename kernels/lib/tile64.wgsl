// The 64x64 shared-memory tile of the GEMM kernels for real GPUs (conv2d_tiled.wgsl,
// matmul_tiled.wgsl), included by scripts/bundle-kernels.mjs where a kernel has the line
// `// @include lib/tile64.wgsl`. A 16x16 workgroup owns a BM x BN block of the output; each step
// of BK along the reduction the kernel stages op(A) in As ([BK][BM]) and op(B) in Bs ([BK][BN]),
// then every invocation (tx, ty) accumulates rows ty + 16i, columns tx + 16j (i, j < 4) with
// tile_fma.

const BM = 64u;
const BN = 64u;
const BK = 16u;

var<workgroup> As: array<f32, 1024>; // [BK][BM]
var<workgroup> Bs: array<f32, 1024>; // [BK][BN]

fn tile_fma(acc: ptr<function, array<vec4f, 4>>, tx: u32, ty: u32) {
  for (var kk = 0u; kk < BK; kk++) {
    let av = vec4f(As[kk * BM + ty], As[kk * BM + ty + 16u], As[kk * BM + ty + 32u], As[kk * BM + ty + 48u]);
    let bv = vec4f(Bs[kk * BN + tx], Bs[kk * BN + tx + 16u], Bs[kk * BN + tx + 32u], Bs[kk * BN + tx + 48u]);
    (*acc)[0] = fma(vec4f(av.x), bv, (*acc)[0]);
    (*acc)[1] = fma(vec4f(av.y), bv, (*acc)[1]);
    (*acc)[2] = fma(vec4f(av.z), bv, (*acc)[2]);
    (*acc)[3] = fma(vec4f(av.w), bv, (*acc)[3]);
  }
}
