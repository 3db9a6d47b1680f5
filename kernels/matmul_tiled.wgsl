// Batched GEMM C[z] = alpha * op(A[z]) op(B[z]) (+ bias[n]), shared-memory tiled: the variant for
// real GPUs (matmul variant 'tiled'; lavapipe prefers matmul.wgsl / matmul_sg.wgsl, where every
// load is a per-lane loop and workgroup memory buys nothing).
// A workgroup of 16x16 invocations owns a 64x64 block of C; per step of 16 along K it stages the
// 64x16 block of op(A) and the 16x64 block of op(B) in workgroup memory, each invocation loading
// 4 + 4 elements with consecutive invocations at consecutive addresses of the operand's contiguous
// axis (so loads coalesce for either transpose flag), then does 4x4 FMAs per k. Any shape.
// Uniforms as kernels/matmul.wgsl (kChunk, splits unused: no split-K). The symmetric product
// (A Aᵀ) is computed in full.
// Workgroups: x = column block, y = row block, z = batch.
// bindings: 0 uniforms, 1 a, 2 b, 3 c, 4 bias (read only when BIAS = 1)
override AT: u32 = 0u;
override BT: u32 = 1u;
override BIAS: u32 = 0u;

// @include lib/tile64.wgsl

// @include lib/matmul_uniforms.wgsl

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

// element offsets of batch z in A and B (broadcast batch dims have stride 0)
fn batchOffsets(z: u32) -> vec2u {
  var rem = z;
  var oa = 0u;
  var ob = 0u;
  for (var d = i32(u.rank) - 1; d >= 0; d--) {
    let dim = u.bshape[d / 4][d % 4];
    let i = rem % dim;
    rem = rem / dim;
    oa += i * u.abstr[d / 4][d % 4];
    ob += i * u.bbstr[d / 4][d % 4];
  }
  return vec2u(oa, ob);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let off = batchOffsets(wid.z);
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let tx = lid.x;
  let ty = lid.y;
  var acc: array<vec4f, 4>;
  for (var k0 = 0u; k0 < u.K; k0 += BK) {
    for (var i = 0u; i < 4u; i++) {
      let e = li + 256u * i;
      // A: contiguous along K (AT = 0, [M, K]) or along M (AT = 1, [K, M])
      var mm: u32;
      var ka: u32;
      if (AT == 0u) { ka = e % BK; mm = e / BK; } else { mm = e % BM; ka = e / BM; }
      let m = m0 + mm;
      let k = k0 + ka;
      var av = 0.0;
      if (m < u.M && k < u.K) { av = a[off.x + select(m * u.K + k, k * u.M + m, AT == 1u)]; }
      As[ka * BM + mm] = av;
      // B: contiguous along N (BT = 0, [K, N]) or along K (BT = 1, [N, K])
      var nn: u32;
      var kb: u32;
      if (BT == 0u) { nn = e % BN; kb = e / BN; } else { kb = e % BK; nn = e / BK; }
      let n = n0 + nn;
      let kg = k0 + kb;
      var bv = 0.0;
      if (n < u.N && kg < u.K) { bv = b[off.y + select(kg * u.N + n, n * u.K + kg, BT == 1u)]; }
      Bs[kb * BN + nn] = bv;
    }
    workgroupBarrier();
    tile_fma(&acc, tx, ty);
    workgroupBarrier();
  }
  let cb = wid.z * u.M * u.N;
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty + 16u * i;
    if (m >= u.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx + 16u * j;
      if (n >= u.N) { continue; }
      var v = acc[i][j] * u.alpha;
      if (BIAS == 1u) { v += bias[n]; }
      c[cb + m * u.N + n] = v;
    }
  }
}
