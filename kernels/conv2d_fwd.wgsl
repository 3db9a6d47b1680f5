// conv2d forward as an implicit GEMM: out[m, co] = sum_k A[m, k] * B[k, co] + bias[co] with
// m = (n, oh, ow) an output pixel, k = (kh, kw, ci) and B = w viewed as [KH*KW*Cin, Cout] (HWIO).
//
// Tiling for lavapipe (workgroup lanes run as SIMD lanes): each invocation owns TR output pixels
// (rows) and the workgroup's whole tile of 4*TC output channels, held in TR*TC vec4 registers.
// The gathered im2col operand A is the only per-invocation load (one float, or one vec4 along
// Cin when VEC = 1); the weights are read at workgroup-uniform addresses (one load + broadcast).
// Any Cout works: columns past Cout read clamped (valid) addresses and are never stored.
//
// Workgroups: x + y * nwg.x = row tile (WG*TR pixels), z = column tile (4*TC channels).
// bindings: 0 uniforms, 1 x (NHWC), 2 w (HWIO), 3 bias (or any buffer when HAS_BIAS = 0), 4 out
override WG: u32 = 16u;
override TR: u32 = 1u;       // rows per invocation, <= 4
override TC: u32 = 4u;       // vec4 column groups per workgroup, <= 8
override HAS_BIAS: u32 = 0u;

struct U {
  N: u32, H: u32, W: u32, C: u32,
  OH: u32, OW: u32, CO: u32, KH: u32,
  KW: u32, S: u32, P: u32, M: u32,
  wlast: u32, pad0: u32, pad1: u32, pad2: u32,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// weights of row `r` (k index) for the 4 columns starting at c (uniform address, clamped)
fn wrow(r: u32, c: u32) -> vec4f {
  let i = r * u.CO + c;
  return vec4f(w[min(i, u.wlast)], w[min(i + 1u, u.wlast)], w[min(i + 2u, u.wlast)], w[min(i + 3u, u.wlast)]);
}

fn store(m: u32, c0: u32, acc: array<vec4f, 32>, r: u32) {
  if (m >= u.M) { return; }
  for (var j = 0u; j < TC; j++) {
    var v = acc[r * TC + j];
    let c = c0 + 4u * j;
    if (HAS_BIAS == 1u) {
      v += vec4f(bias[min(c, u.CO - 1u)], bias[min(c + 1u, u.CO - 1u)], bias[min(c + 2u, u.CO - 1u)], bias[min(c + 3u, u.CO - 1u)]);
    }
    let o = m * u.CO + c;
    if (c + 3u < u.CO) {
      out[o] = v.x; out[o + 1u] = v.y; out[o + 2u] = v.z; out[o + 3u] = v.w;
    } else {
      for (var q = 0u; q < 4u; q++) { if (c + q < u.CO) { out[o + q] = v[q]; } }
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x + wid.y * nwg.x;
  let c0 = wid.z * 4u * TC;
  var acc: array<vec4f, 32>;
  var oh: array<i32, 4>;
  var ow: array<i32, 4>;
  var nb: array<u32, 4>;
  for (var r = 0u; r < TR; r++) {
    let m = min((tile * TR + r) * WG + lid, u.M - 1u);
    let owv = m % u.OW;
    let t = m / u.OW;
    ow[r] = i32(owv * u.S) - i32(u.P);
    oh[r] = i32((t % u.OH) * u.S) - i32(u.P);
    nb[r] = (t / u.OH) * u.H;
  }
  for (var kh = 0u; kh < u.KH; kh++) {
    for (var kw = 0u; kw < u.KW; kw++) {
      var base: array<u32, 4>;
      var ok: array<bool, 4>;
      for (var r = 0u; r < TR; r++) {
        let ih = oh[r] + i32(kh);
        let iw = ow[r] + i32(kw);
        ok[r] = ih >= 0 && ih < i32(u.H) && iw >= 0 && iw < i32(u.W);
        base[r] = select(0u, ((nb[r] + u32(ih)) * u.W + u32(iw)) * u.C, ok[r]);
      }
      let krow = (kh * u.KW + kw) * u.C;
      for (var ci = 0u; ci < u.C; ci++) {
        var a: array<f32, 4>;
        for (var r = 0u; r < TR; r++) { a[r] = select(0.0, x[base[r] + ci], ok[r]); }
        for (var j = 0u; j < TC; j++) {
          let b = wrow(krow + ci, c0 + 4u * j);
          for (var r = 0u; r < TR; r++) { acc[r * TC + j] = fma(vec4f(a[r]), b, acc[r * TC + j]); }
        }
      }
    }
  }
  for (var r = 0u; r < TR; r++) { store((tile * TR + r) * WG + lid, c0, acc, r); }
}

// Same, for Cin % 4 == 0: the per-invocation load is one vec4 along Cin.
@compute @workgroup_size(WG)
fn main_vec(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x + wid.y * nwg.x;
  let c0 = wid.z * 4u * TC;
  var acc: array<vec4f, 32>;
  var oh: array<i32, 4>;
  var ow: array<i32, 4>;
  var nb: array<u32, 4>;
  for (var r = 0u; r < TR; r++) {
    let m = min((tile * TR + r) * WG + lid, u.M - 1u);
    let owv = m % u.OW;
    let t = m / u.OW;
    ow[r] = i32(owv * u.S) - i32(u.P);
    oh[r] = i32((t % u.OH) * u.S) - i32(u.P);
    nb[r] = (t / u.OH) * u.H;
  }
  let C4 = u.C / 4u;
  for (var kh = 0u; kh < u.KH; kh++) {
    for (var kw = 0u; kw < u.KW; kw++) {
      var base: array<u32, 4>;
      var ok: array<bool, 4>;
      for (var r = 0u; r < TR; r++) {
        let ih = oh[r] + i32(kh);
        let iw = ow[r] + i32(kw);
        ok[r] = ih >= 0 && ih < i32(u.H) && iw >= 0 && iw < i32(u.W);
        base[r] = select(0u, ((nb[r] + u32(ih)) * u.W + u32(iw)) * C4, ok[r]);
      }
      let krow = (kh * u.KW + kw) * u.C;
      for (var c4 = 0u; c4 < C4; c4++) {
        var a: array<vec4f, 4>;
        for (var r = 0u; r < TR; r++) { a[r] = select(vec4f(0.0), x4[base[r] + c4], ok[r]); }
        for (var q = 0u; q < 4u; q++) {
          for (var j = 0u; j < TC; j++) {
            let b = wrow(krow + 4u * c4 + q, c0 + 4u * j);
            for (var r = 0u; r < TR; r++) { acc[r * TC + j] = fma(vec4f(a[r][q]), b, acc[r * TC + j]); }
          }
        }
      }
    }
  }
  for (var r = 0u; r < TR; r++) { store((tile * TR + r) * WG + lid, c0, acc, r); }
}
