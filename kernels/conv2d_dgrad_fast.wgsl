// conv2d input gradient, fast path (Cin % 4 == 0 and Cout % 4 == 0): an implicit GEMM
// dx[p, ci] = sum_{kh, kw, co} dy[(ih + P - kh) / S, (iw + P - kw) / S, co] * w[kh, kw, ci, co]
// over the input pixels p = (n, ih, iw) of ONE stride phase (ih % S, iw % S) = (phH, phW): the
// taps that reach such a pixel are kh = kh0 + S*t, kw = kw0 + S*t for the whole dispatch, so no
// work is wasted on the zeros of stride > 1. The host dispatches once per phase.
// Tiling as in conv2d_fwd_fast: the workgroup owns R pixels (dy read at workgroup-uniform
// addresses, vec4 along Cout), each invocation one vec4 group of Cin, read from the transposed
// weights wT [KH, KW, Cout, Cin].
// Workgroups: x + y * nwg.x = pixel tile, z = Cin tile of WG vec4 groups.
// bindings: 0 uniforms, 1 dy, 2 wT, 3 dx
override WG: u32 = 16u;
override R: u32 = 8u; // <= 8

struct U {
// @include lib/conv_geo.wgsl
  phH: u32, phW: u32, HP: u32, WP: u32,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(2) var<storage, read> wt4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> dx4: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x + wid.y * nwg.x;
  let C4 = u.C / 4u;
  let CO4 = u.CO / 4u;
  let g = wid.z * WG + lid;
  let cg = min(g, C4 - 1u);
  var acc: array<vec4f, 8>;
  var thb: array<i32, 8>;
  var twb: array<i32, 8>;
  var nb: array<u32, 8>;
  for (var r = 0u; r < R; r++) {
    let m = min(tile * R + r, u.M - 1u);
    let j = m % u.WP;
    let t = m / u.WP;
    thb[r] = i32(u.phH + u.S * (t % u.HP) + u.P);
    twb[r] = i32(u.phW + u.S * j + u.P);
    nb[r] = (t / u.HP) * u.OH;
  }
  let kh0 = (u.phH + u.P) % u.S;
  let kw0 = (u.phW + u.P) % u.S;
  for (var kh = kh0; kh < u.KH; kh += u.S) {
    for (var kw = kw0; kw < u.KW; kw += u.S) {
      var base: array<u32, 8>;
      var ok: array<bool, 8>;
      for (var r = 0u; r < R; r++) {
        let th = thb[r] - i32(kh);
        let tw = twb[r] - i32(kw);
        let oh = u32(max(th, 0)) / u.S;
        let ow = u32(max(tw, 0)) / u.S;
        ok[r] = th >= 0 && tw >= 0 && oh < u.OH && ow < u.OW;
        base[r] = select(0u, ((nb[r] + oh) * u.OW + ow) * CO4, ok[r]);
      }
      let wb = (kh * u.KW + kw) * u.CO;
      for (var c4 = 0u; c4 < CO4; c4++) {
        var a: array<vec4f, 8>;
        for (var r = 0u; r < R; r++) { a[r] = select(vec4f(0.0), dy4[base[r] + c4], ok[r]); }
        for (var q = 0u; q < 4u; q++) {
          let b = wt4[(wb + 4u * c4 + q) * C4 + cg];
          for (var r = 0u; r < R; r++) { acc[r] = fma(vec4f(a[r][q]), b, acc[r]); }
        }
      }
    }
  }
  if (g >= C4) { return; }
  for (var r = 0u; r < R; r++) {
    let m = tile * R + r;
    if (m < u.M) {
      let j = m % u.WP;
      let t = m / u.WP;
      let ih = u.phH + u.S * (t % u.HP);
      let iw = u.phW + u.S * j;
      let n = t / u.HP;
      dx4[((n * u.H + ih) * u.W + iw) * C4 + g] = acc[r];
    }
  }
}
