// Batched GEMM  C[z] = alpha * op(A[z]) op(B[z]) (+ bias[n]), f32, tuned for lavapipe.
//
// Measured on lavapipe (Mesa 25, LLVM 15): every storage load whose address is not a constant
// costs a per-lane scalar loop, including loads at workgroup-uniform addresses inside loops, and
// a vec4 load costs about as much as a scalar one. So the kernel maximises FMAs per load: each
// invocation owns a 4x4 (R8: 8x4) block of C, and per 4 steps of K it loads a 4x4 block of A and
// of B as four vec4s each (along K or along M/N, whichever is contiguous), then does one
// mat4x4 product (64 FMAs). Rows/columns past the edge are clamped on load and never stored.
//
// Operand layouts (row-major), selected per pipeline:
//   AT = 0: A is [M, K] (vec4 along K)      AT = 1: A is [K, M] (vec4 along M, M % 4 == 0)
//   BT = 0: B is [K, N] (vec4 along N, N % 4 == 0)   BT = 1: B is [N, K] (vec4 along K)
// `main` needs K % 4 == 0 (and the conditions above); `generic` takes any shape.
// Invocations of a workgroup own consecutive row blocks; workgroup x = column block of 4,
// y = row group, z = batch * splits + split.
// Split-K: split s covers k in [s*kChunk, min(K, (s+1)*kChunk)) and writes to slab s of the
// output (c[(s*nb + batch)*M*N + ...]); `finish` sums the slabs in a fixed order (deterministic).
// SYM = 1 (C = A A^T): workgroups entirely below the diagonal exit; `finish` mirrors.
// bindings: 0 uniforms, 1 a, 2 b, 3 c, 4 bias (read only when BIAS = 1)
override WG: u32 = 8u;
override R8: u32 = 0u;
override AT: u32 = 0u;
override BT: u32 = 1u;
override BIAS: u32 = 0u;
override SYM: u32 = 0u;
override LN: u32 = 0u;

// @include lib/matmul_uniforms.wgsl

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(1) var<storage, read> a4: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4: array<vec4f>;

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

fn storeBlock(cb: u32, m: u32, n: u32, acc: mat4x4f) {
  for (var j = 0u; j < 4u; j++) {
    if (n + j < u.N) {
      var bb = 0.0;
      if (BIAS == 1u) { bb = bias[n + j]; }
      for (var i = 0u; i < 4u; i++) {
        if (m + i < u.M) { c[cb + (m + i) * u.N + n + j] = acc[j][i] * u.alpha + bb; }
      }
    }
  }
}

// The 4x4 block of A at rows m..m+3, k = 4t..4t+3 as a matrix with columns = k, rows = m.
fn loadA(ob: u32, m: u32, t: u32) -> mat4x4f {
  if (AT == 0u) {
    let kq = u.K / 4u;
    let mm = u.M - 1u;
    let base = ob / 4u + t;
    return transpose(mat4x4f(a4[base + min(m, mm) * kq], a4[base + min(m + 1u, mm) * kq],
                             a4[base + min(m + 2u, mm) * kq], a4[base + min(m + 3u, mm) * kq]));
  }
  let mq = u.M / 4u;
  let base = (ob + min(m, u.M - 4u)) / 4u + 4u * t * mq;
  return mat4x4f(a4[base], a4[base + mq], a4[base + 2u * mq], a4[base + 3u * mq]);
}

// The 4x4 block of B at k = 4t..4t+3, columns n..n+3 as a matrix with columns = n, rows = k.
fn loadB(ob: u32, n: u32, t: u32) -> mat4x4f {
  if (BT == 1u) {
    let kq = u.K / 4u;
    let nn = u.N - 1u;
    let base = ob / 4u + t;
    return mat4x4f(b4[base + min(n, nn) * kq], b4[base + min(n + 1u, nn) * kq],
                   b4[base + min(n + 2u, nn) * kq], b4[base + min(n + 3u, nn) * kq]);
  }
  let nq = u.N / 4u;
  let base = (ob + min(n, u.N - 4u)) / 4u + 4u * t * nq;
  return transpose(mat4x4f(b4[base], b4[base + nq], b4[base + 2u * nq], b4[base + 3u * nq]));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let rows = select(4u, 8u, R8 == 1u);
  // LN = 0: the invocations of a workgroup own consecutive row blocks of one column block;
  // LN = 1: consecutive column blocks of one row block (contiguous B loads when BT = 0).
  var n = wid.x * 4u;
  var m = wid.y * WG * rows + lid * rows;
  if (LN == 1u) {
    n = (wid.x * WG + lid) * 4u;
    m = wid.y * rows;
  }
  let mw = select(wid.y * WG * rows, m, LN == 1u);
  let nw = select(n + 3u, wid.x * WG * 4u + WG * 4u - 1u, LN == 1u);
  if (SYM == 1u && mw > nw) { return; }
  let z = wid.z / u.splits;
  let s = wid.z % u.splits;
  let off = batchOffsets(z);
  let t0 = s * u.kChunk / 4u;
  let t1 = min(u.K, (s + 1u) * u.kChunk) / 4u;
  var acc0 = mat4x4f();
  var acc1 = mat4x4f();
  // Rows of A and B that are K floats apart fall in the same L1 set when K*4 is a multiple of
  // 4 KiB; starting each invocation at a different k (3 cache lines apart) avoids the thrashing.
  let len = t1 - t0;
  var t = t0 + select(0u, (lid * 12u) % len, len > 0u);
  for (var i = 0u; i < len; i++) {
    let bm = loadB(off.y, n, t);
    acc0 += loadA(off.x, m, t) * bm;
    if (R8 == 1u) { acc1 += loadA(off.x, m + 4u, t) * bm; }
    t++;
    if (t == t1) { t = t0; }
  }
  let cb = (s * u.nb + z) * u.M * u.N;
  storeBlock(cb, m, n, acc0);
  if (R8 == 1u) { storeBlock(cb, m + 4u, n, acc1); }
}

// Any shape: the same blocking with scalar loads (element (m, k) of A is at
// AT ? k*M + m : m*K + k, element (k, n) of B at BT ? n*K + k : k*N + n).
@compute @workgroup_size(WG)
fn generic(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n = wid.x * 4u;
  let mw = wid.y * WG * 4u;
  if (SYM == 1u && mw > n + 3u) { return; }
  let m = mw + lid * 4u;
  let z = wid.z / u.splits;
  let s = wid.z % u.splits;
  let off = batchOffsets(z);
  let k0 = s * u.kChunk;
  let k1 = min(u.K, k0 + u.kChunk);
  let mm = u.M - 1u;
  let nn = u.N - 1u;
  let sAm = select(u.K, 1u, AT == 1u);
  let sAk = select(1u, u.M, AT == 1u);
  let sBk = select(u.N, 1u, BT == 1u);
  let sBn = select(1u, u.K, BT == 1u);
  let ar = vec4u(min(m, mm), min(m + 1u, mm), min(m + 2u, mm), min(m + 3u, mm)) * sAm + off.x;
  let bc = vec4u(min(n, nn), min(n + 1u, nn), min(n + 2u, nn), min(n + 3u, nn)) * sBn + off.y;
  var acc = mat4x4f();
  for (var k = k0; k < k1; k++) {
    let ak = ar + k * sAk;
    let bk = bc + k * sBk;
    let av = vec4f(a[ak.x], a[ak.y], a[ak.z], a[ak.w]);
    acc[0] += av * b[bk.x];
    acc[1] += av * b[bk.y];
    acc[2] += av * b[bk.z];
    acc[3] += av * b[bk.w];
  }
  storeBlock((s * u.nb + z) * u.M * u.N, m, n, acc);
}

// out[z, i, j] = alpha * sum_s part[s, z, i', j'] + bias[j], with (i', j') = (min, max)(i, j)
// when SYM = 1. One invocation per output element; bindings: 0 uniforms, 1 part, 3 out, 4 bias.
@compute @workgroup_size(64)
fn finish(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  let mn = u.M * u.N;
  if (i >= u.nb * mn) { return; }
  var src = i;
  if (SYM == 1u) {
    let r = i % mn;
    let row = r / u.N;
    let col = r % u.N;
    if (row > col) { src = i - r + col * u.N + row; }
  }
  var acc = 0.0;
  for (var s = 0u; s < u.splits; s++) { acc += a[s * u.nb * mn + src]; }
  var bb = 0.0;
  if (BIAS == 1u) { bb = bias[i % u.N]; }
  c[i] = acc * u.alpha + bb;
}

// out[i, j] = g[i, j] + g[j, i] for a square [N, N] g (u.N); bindings: 0 uniforms, 1 g, 3 out.
@compute @workgroup_size(64)
fn symadd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= u.N * u.N) { return; }
  let row = i / u.N;
  let col = i % u.N;
  c[i] = a[i] + a[col * u.N + row];
}
