// conv2d forward, fast path (Cout % 4 == 0): implicit GEMM out[m, co] = sum_k A[m, k] B[k, co]
// with m = (n, oh, ow), k = (kh, kw, ci), B = w as [KH*KW*Cin, Cout/4] vec4s.
// Register tiling for lavapipe: the workgroup owns R output pixels whose im2col values are read
// at workgroup-uniform addresses; each invocation owns CV vec4 output-channel groups (its
// per-invocation operand is one vec4 weight load per group and k) and keeps R*CV vec4
// accumulators. `main_vec` (Cin % 4 == 0) reads x as vec4 along Cin.
// Workgroups: x + y * nwg.x = pixel tile, z = channel tile of WG*CV vec4 groups.
// bindings: 0 uniforms, 1 x (NHWC), 2 w (HWIO), 3 bias (unused when HAS_BIAS = 0), 4 out
override WG: u32 = 16u;
override R: u32 = 8u;   // <= 8
override CV: u32 = 1u;  // <= 2
override HAS_BIAS: u32 = 0u;

struct U {
// @include lib/conv_geo.wgsl
  pad0: u32, pad1: u32, pad2: u32, pad3: u32,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read> w4: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> out4: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x + wid.y * nwg.x;
  let CO4 = u.CO / 4u;
  var cg: array<u32, 2>;
  for (var j = 0u; j < CV; j++) { cg[j] = min(wid.z * WG * CV + j * WG + lid, CO4 - 1u); }
  var acc: array<vec4f, 16>;
  var oh: array<i32, 8>;
  var ow: array<i32, 8>;
  var nb: array<u32, 8>;
  for (var r = 0u; r < R; r++) {
    let m = min(tile * R + r, u.M - 1u);
    let t = m / u.OW;
    ow[r] = i32((m % u.OW) * u.S) - i32(u.P);
    oh[r] = i32((t % u.OH) * u.S) - i32(u.P);
    nb[r] = (t / u.OH) * u.H;
  }
  let C4 = u.C / 4u;
  for (var kh = 0u; kh < u.KH; kh++) {
    for (var kw = 0u; kw < u.KW; kw++) {
      var base: array<u32, 8>;
      var ok: array<bool, 8>;
      for (var r = 0u; r < R; r++) {
        let ih = oh[r] + i32(kh);
        let iw = ow[r] + i32(kw);
        ok[r] = ih >= 0 && ih < i32(u.H) && iw >= 0 && iw < i32(u.W);
        base[r] = select(0u, ((nb[r] + u32(ih)) * u.W + u32(iw)) * u.C, ok[r]);
      }
      let krow = (kh * u.KW + kw) * u.C;
        for (var ci = 0u; ci < u.C; ci++) {
          var a: array<f32, 8>;
          for (var r = 0u; r < R; r++) { a[r] = select(0.0, x[base[r] + ci], ok[r]); }
          let wr = (krow + ci) * CO4;
          for (var j = 0u; j < CV; j++) {
            let b = w4[wr + cg[j]];
            for (var r = 0u; r < R; r++) { acc[r * CV + j] = fma(vec4f(a[r]), b, acc[r * CV + j]); }
          }
        }
    }
  }
  for (var j = 0u; j < CV; j++) {
    let g = wid.z * WG * CV + j * WG + lid;
    if (g >= CO4) { continue; }
    var bv = vec4f(0.0);
    if (HAS_BIAS == 1u) { bv = bias4[g]; }
    for (var r = 0u; r < R; r++) {
      let m = tile * R + r;
      if (m < u.M) { out4[m * CO4 + g] = acc[r * CV + j] + bv; }
    }
  }
}

@compute @workgroup_size(WG)
fn main_vec(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x + wid.y * nwg.x;
  let CO4 = u.CO / 4u;
  var cg: array<u32, 2>;
  for (var j = 0u; j < CV; j++) { cg[j] = min(wid.z * WG * CV + j * WG + lid, CO4 - 1u); }
  var acc: array<vec4f, 16>;
  var oh: array<i32, 8>;
  var ow: array<i32, 8>;
  var nb: array<u32, 8>;
  for (var r = 0u; r < R; r++) {
    let m = min(tile * R + r, u.M - 1u);
    let t = m / u.OW;
    ow[r] = i32((m % u.OW) * u.S) - i32(u.P);
    oh[r] = i32((t % u.OH) * u.S) - i32(u.P);
    nb[r] = (t / u.OH) * u.H;
  }
  let C4 = u.C / 4u;
  for (var kh = 0u; kh < u.KH; kh++) {
    for (var kw = 0u; kw < u.KW; kw++) {
      var base: array<u32, 8>;
      var ok: array<bool, 8>;
      for (var r = 0u; r < R; r++) {
        let ih = oh[r] + i32(kh);
        let iw = ow[r] + i32(kw);
        ok[r] = ih >= 0 && ih < i32(u.H) && iw >= 0 && iw < i32(u.W);
        base[r] = select(0u, ((nb[r] + u32(ih)) * u.W + u32(iw)) * u.C, ok[r]);
      }
      let krow = (kh * u.KW + kw) * u.C;
        for (var c4 = 0u; c4 < C4; c4++) {
          var a: array<vec4f, 8>;
          for (var r = 0u; r < R; r++) { a[r] = select(vec4f(0.0), x4[base[r] / 4u + c4], ok[r]); }
          for (var q = 0u; q < 4u; q++) {
            let wr = (krow + 4u * c4 + q) * CO4;
            for (var j = 0u; j < CV; j++) {
              let b = w4[wr + cg[j]];
              for (var r = 0u; r < R; r++) { acc[r * CV + j] = fma(vec4f(a[r][q]), b, acc[r * CV + j]); }
            }
          }
        }
    }
  }
  for (var j = 0u; j < CV; j++) {
    let g = wid.z * WG * CV + j * WG + lid;
    if (g >= CO4) { continue; }
    var bv = vec4f(0.0);
    if (HAS_BIAS == 1u) { bv = bias4[g]; }
    for (var r = 0u; r < R; r++) {
      let m = tile * R + r;
      if (m < u.M) { out4[m * CO4 + g] = acc[r * CV + j] + bv; }
    }
  }
}
