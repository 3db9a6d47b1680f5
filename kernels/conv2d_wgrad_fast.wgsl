// conv2d weight gradient, fast path (Cout % 4 == 0): a GEMM with a long reduction,
// dw[kh, kw, ci, co] = sum_p x[n, oh*S - P + kh, ow*S - P + kw, ci] * dy[p, co], p = (n, oh, ow),
// split into `splits` slices of `chunk` pixels (split-K): slice s writes partial[s, ...] and the
// host sums the slices in a second, deterministic pass (no atomics).
// A workgroup owns one tap (kh, kw) and R consecutive input channels, so the padding test is
// workgroup-uniform (a pixel whose tap falls outside the image is skipped by the whole group)
// and x is read at workgroup-uniform addresses; each invocation owns one vec4 group of Cout
// (per-invocation vec4 loads of dy). `main_vec` (Cin % 4 == 0, R % 4 == 0) reads x as vec4.
// Workgroups: x + y * nwg.x = (split, tap, ci tile) flattened, z = Cout tile of WG vec4 groups.
// bindings: 0 uniforms, 1 x, 2 dy, 3 partial [splits, KH, KW, C, CO]
override WG: u32 = 16u;
override R: u32 = 8u; // <= 8

struct U {
// @include lib/conv_geo.wgsl
  chunk: u32, ctiles: u32, pad0: u32, pad1: u32,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> part4: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let flat = wid.x + wid.y * nwg.x;
  let ct = flat % u.ctiles;
  let t2 = flat / u.ctiles;
  let taps = u.KH * u.KW;
  let tap = t2 % taps;
  let s = t2 / taps;
  let kh = tap / u.KW;
  let kw = tap % u.KW;
  let ci0 = ct * R;
  let CO4 = u.CO / 4u;
  let g = wid.z * WG + lid;
  let cg = min(g, CO4 - 1u);
  var acc: array<vec4f, 8>;
  var coff: array<u32, 8>;
  for (var r = 0u; r < R; r++) { coff[r] = min(ci0 + r, u.C - 1u); }
  let start = s * u.chunk;
  let end = min(u.M, start + u.chunk);
  // (n, oh, ow) of pixel m, advanced incrementally (integer division is slow here)
  var ow = start % u.OW;
  var oh = (start / u.OW) % u.OH;
  var n = start / (u.OW * u.OH);
  for (var m = start; m < end; m++) {
    let ih = i32(oh * u.S + kh) - i32(u.P);
    let iw = i32(ow * u.S + kw) - i32(u.P);
    if (ih >= 0 && ih < i32(u.H) && iw >= 0 && iw < i32(u.W)) {
      let xb = ((n * u.H + u32(ih)) * u.W + u32(iw)) * u.C;
      let b = dy4[m * CO4 + cg];
      for (var r = 0u; r < R; r++) { acc[r] = fma(vec4f(x[xb + coff[r]]), b, acc[r]); }
    }
    ow++;
    if (ow == u.OW) {
      ow = 0u;
      oh++;
      if (oh == u.OH) { oh = 0u; n++; }
    }
  }
  if (g >= CO4) { return; }
  for (var r = 0u; r < R; r++) {
    let ci = ci0 + r;
    if (ci < u.C) { part4[((s * taps + tap) * u.C + ci) * CO4 + g] = acc[r]; }
  }
}

@compute @workgroup_size(WG)
fn main_vec(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let flat = wid.x + wid.y * nwg.x;
  let ct = flat % u.ctiles;
  let t2 = flat / u.ctiles;
  let taps = u.KH * u.KW;
  let tap = t2 % taps;
  let s = t2 / taps;
  let kh = tap / u.KW;
  let kw = tap % u.KW;
  let ci0 = ct * R;
  let CO4 = u.CO / 4u;
  let g = wid.z * WG + lid;
  let cg = min(g, CO4 - 1u);
  var acc: array<vec4f, 8>;
  var coff: array<u32, 8>;
  for (var r = 0u; r < R; r++) { coff[r] = min(ci0 + r, u.C - 1u); }
  let start = s * u.chunk;
  let end = min(u.M, start + u.chunk);
  // (n, oh, ow) of pixel m, advanced incrementally (integer division is slow here)
  var ow = start % u.OW;
  var oh = (start / u.OW) % u.OH;
  var n = start / (u.OW * u.OH);
  for (var m = start; m < end; m++) {
    let ih = i32(oh * u.S + kh) - i32(u.P);
    let iw = i32(ow * u.S + kw) - i32(u.P);
    if (ih >= 0 && ih < i32(u.H) && iw >= 0 && iw < i32(u.W)) {
      let xb = ((n * u.H + u32(ih)) * u.W + u32(iw)) * u.C;
      let b = dy4[m * CO4 + cg];
      for (var r4 = 0u; r4 < R / 4u; r4++) {
        let a = x4[(xb + coff[4u * r4]) / 4u];
        for (var q = 0u; q < 4u; q++) { acc[4u * r4 + q] = fma(vec4f(a[q]), b, acc[4u * r4 + q]); }
      }
    }
    ow++;
    if (ow == u.OW) {
      ow = 0u;
      oh++;
      if (oh == u.OH) { oh = 0u; n++; }
    }
  }
  if (g >= CO4) { return; }
  for (var r = 0u; r < R; r++) {
    let ci = ci0 + r;
    if (ci < u.C) { part4[((s * taps + tap) * u.C + ci) * CO4 + g] = acc[r]; }
  }
}
