// Batched GEMM  C[z] = alpha * op(A[z]) * op(B[z]) (+ bias), f32, for SIMD-lane execution.
//
// Layout (see docs/lavapipe-performance): lavapipe runs a workgroup's invocations as SIMD lanes, so
// a load whose address is workgroup-uniform is one load + broadcast, while a per-invocation load is
// a scalar loop. Each workgroup therefore owns TM output rows whose A values are read at uniform
// addresses, and each invocation owns C output columns whose B values it reads itself.
//
// Element addressing is by strides, so one entry point covers NN/NT/TN/TT:
//   A(m, k) = a[aBase + m*sAm + k*sAk],  B(k, n) = b[bBase + k*sBk + n*sBn]
// Entry points:
//   nt4   - the fast path: B is read as vec4 along K (B is [N, K] row-major, K % 4 == 0, sBn = K),
//           A is read as vec4 along K (AK4 = 1: A [M, K], K % 4 == 0) or along M (AK4 = 0: A is
//           [K, M], M % 4 == 0). Rows/columns past the edge are clamped (computed, never stored).
//   generic - scalar loads through strides; any shape.
// Split-K: dispatch z = batch * splits + s; slice s covers k in [s*kChunk, min(K, (s+1)*kChunk))
// and writes its partial product to c[(s*nb + batch)*M*N ...]; matmul_reduce.wgsl sums them.
// bindings: 0 uniforms, 1 a, 2 b, 3 c, 4 bias (only read when BIAS = 1)
override WG: u32 = 8u;
override TM: u32 = 16u;     // rows per workgroup (multiple of 4 for nt4)
override C: u32 = 1u;       // columns per invocation
override AK4: u32 = 1u;
override BIAS: u32 = 0u;
override SYM: u32 = 0u;     // 1: skip tiles entirely below the diagonal (C = A A^T)

const MAXTM: u32 = 32u;
const MAXC: u32 = 4u;

struct U {
  M: u32, N: u32, K: u32, kChunk: u32,
  sAm: u32, sAk: u32, sBk: u32, sBn: u32,
  nb: u32, splits: u32, rank: u32, alpha: f32,
  bshape: array<vec4u, 2>,
  abstr: array<vec4u, 2>,
  bbstr: array<vec4u, 2>,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(1) var<storage, read> a4: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4: array<vec4f>;

// batch offsets of A and B for broadcast batch index z
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

@compute @workgroup_size(WG)
fn nt4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let m0 = wid.y * TM;
  let n0 = wid.x * WG * C;
  if (SYM == 1u && m0 > n0 + WG * C - 1u) { return; }
  let z = wid.z / u.splits;
  let s = wid.z % u.splits;
  let off = batchOffsets(z);
  let kb = s * u.kChunk;
  let ke = min(u.K, kb + u.kChunk);
  // per-invocation column bases (vec4 index), clamped to the last column
  var bo: array<u32, MAXC>;
  for (var j = 0u; j < C; j++) {
    let n = min(n0 + lid + j * WG, u.N - 1u);
    bo[j] = (off.y + n * u.sBn + kb) / 4u;
  }
  // uniform row bases (vec4 index)
  var ao: array<u32, MAXTM>;
  if (AK4 == 1u) {
    for (var r = 0u; r < TM; r++) {
      ao[r] = (off.x + min(m0 + r, u.M - 1u) * u.sAm + kb) / 4u;
    }
  } else {
    // A is [K, M]: a vec4 holds 4 consecutive rows at one k (M % 4 == 0, so groups never straddle)
    for (var g = 0u; g < TM / 4u; g++) {
      ao[g] = (off.x + min(m0 + 4u * g, u.M - 4u) + kb * u.M) / 4u;
    }
  }
  var acc: array<array<f32, MAXC>, MAXTM>;
  for (var r = 0u; r < TM; r++) {
    for (var j = 0u; j < C; j++) { acc[r][j] = 0.0; }
  }
  let steps = (ke - kb) / 4u;
  let mq = u.M / 4u;
  for (var t = 0u; t < steps; t++) {
    var bv: array<vec4f, MAXC>;
    for (var j = 0u; j < C; j++) { bv[j] = b4[bo[j] + t]; }
    if (AK4 == 1u) {
      for (var r = 0u; r < TM; r++) {
        let av = a4[ao[r] + t];
        for (var j = 0u; j < C; j++) { acc[r][j] += dot(av, bv[j]); }
      }
    } else {
      for (var g = 0u; g < TM / 4u; g++) {
        let base = ao[g] + 4u * t * mq;
        let a0 = a4[base];
        let a1 = a4[base + mq];
        let a2 = a4[base + 2u * mq];
        let a3 = a4[base + 3u * mq];
        for (var i = 0u; i < 4u; i++) {
          let av = vec4f(a0[i], a1[i], a2[i], a3[i]);
          for (var j = 0u; j < C; j++) { acc[4u * g + i][j] += dot(av, bv[j]); }
        }
      }
    }
  }
  let cb = (s * u.nb + z) * u.M * u.N;
  for (var j = 0u; j < C; j++) {
    let n = n0 + lid + j * WG;
    if (n < u.N) {
      var bb = 0.0;
      if (BIAS == 1u) { bb = bias[n]; }
      for (var r = 0u; r < TM; r++) {
        if (m0 + r < u.M) { c[cb + (m0 + r) * u.N + n] = acc[r][j] * u.alpha + bb; }
      }
    }
  }
}

// Scalar fallback, same tiling: TM uniform rows x C columns per invocation, any shape/strides.
@compute @workgroup_size(WG)
fn generic(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let m0 = wid.y * TM;
  let n0 = wid.x * WG * C;
  if (SYM == 1u && m0 > n0 + WG * C - 1u) { return; }
  let z = wid.z / u.splits;
  let s = wid.z % u.splits;
  let off = batchOffsets(z);
  let kb = s * u.kChunk;
  let ke = min(u.K, kb + u.kChunk);
  var bo: array<u32, MAXC>;
  for (var j = 0u; j < C; j++) {
    let n = min(n0 + lid + j * WG, u.N - 1u);
    bo[j] = off.y + n * u.sBn + kb * u.sBk;
  }
  var ao: array<u32, MAXTM>;
  for (var r = 0u; r < TM; r++) {
    ao[r] = off.x + min(m0 + r, u.M - 1u) * u.sAm + kb * u.sAk;
  }
  var acc: array<array<f32, MAXC>, MAXTM>;
  for (var r = 0u; r < TM; r++) {
    for (var j = 0u; j < C; j++) { acc[r][j] = 0.0; }
  }
  for (var k = kb; k < ke; k++) {
    var bv: array<f32, MAXC>;
    for (var j = 0u; j < C; j++) { bv[j] = b[bo[j]]; bo[j] += u.sBk; }
    for (var r = 0u; r < TM; r++) {
      let av = a[ao[r]];
      ao[r] += u.sAk;
      for (var j = 0u; j < C; j++) { acc[r][j] = fma(av, bv[j], acc[r][j]); }
    }
  }
  let cb = (s * u.nb + z) * u.M * u.N;
  for (var j = 0u; j < C; j++) {
    let n = n0 + lid + j * WG;
    if (n < u.N) {
      var bb = 0.0;
      if (BIAS == 1u) { bb = bias[n]; }
      for (var r = 0u; r < TM; r++) {
        if (m0 + r < u.M) { c[cb + (m0 + r) * u.N + n] = acc[r][j] * u.alpha + bb; }
      }
    }
  }
}
