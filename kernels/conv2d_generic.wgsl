// conv2d and its gradients, generic path: one invocation per output element, any shape
// (Cin, Cout not multiples of 4, any kernel, stride, padding). Always correct, not fast; the
// fast paths live in conv2d_{fwd,dgrad,wgrad}_fast.wgsl.
// Layout: x NHWC [N, H, W, C], w HWIO [KH, KW, C, CO], dy / out [N, OH, OW, CO].
// bindings: 0 uniforms, 1 a, 2 b, 3 bias, 4 out
//   fwd:   a = x,  b = w,  bias (read when HAS_BIAS = 1), out = y
//   dgrad: a = dy, b = w,  out = dx
//   wgrad: a = x,  b = dy, out = partial dw [splits, KH*KW*C*CO] (pixel slice s of `chunk`)
override WG: u32 = 64u;
override HAS_BIAS: u32 = 0u;

struct U {
// @include lib/conv_geo.wgsl
  total: u32, chunk: u32, splits: u32, pad0: u32,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.total) { return; }
  let co = i % u.CO;
  let m = i / u.CO;
  let ow = m % u.OW;
  let t = m / u.OW;
  let oh = t % u.OH;
  let n = t / u.OH;
  var acc = 0.0;
  for (var kh = 0u; kh < u.KH; kh++) {
    let ih = i32(oh * u.S + kh) - i32(u.P);
    if (ih < 0 || ih >= i32(u.H)) { continue; }
    for (var kw = 0u; kw < u.KW; kw++) {
      let iw = i32(ow * u.S + kw) - i32(u.P);
      if (iw < 0 || iw >= i32(u.W)) { continue; }
      let xb = ((n * u.H + u32(ih)) * u.W + u32(iw)) * u.C;
      let wb = (kh * u.KW + kw) * u.C * u.CO + co;
      for (var ci = 0u; ci < u.C; ci++) { acc = fma(a[xb + ci], b[wb + ci * u.CO], acc); }
    }
  }
  if (HAS_BIAS == 1u) { acc += bias[co]; }
  out[i] = acc;
}

@compute @workgroup_size(WG)
fn dgrad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.total) { return; }
  let ci = i % u.C;
  let p = i / u.C;
  let iw = p % u.W;
  let t = p / u.W;
  let ih = t % u.H;
  let n = t / u.H;
  var acc = 0.0;
  for (var kh = 0u; kh < u.KH; kh++) {
    let th = i32(ih + u.P) - i32(kh);
    if (th < 0 || u32(th) % u.S != 0u) { continue; }
    let oh = u32(th) / u.S;
    if (oh >= u.OH) { continue; }
    for (var kw = 0u; kw < u.KW; kw++) {
      let tw = i32(iw + u.P) - i32(kw);
      if (tw < 0 || u32(tw) % u.S != 0u) { continue; }
      let ow = u32(tw) / u.S;
      if (ow >= u.OW) { continue; }
      let db = ((n * u.OH + oh) * u.OW + ow) * u.CO;
      let wb = ((kh * u.KW + kw) * u.C + ci) * u.CO;
      for (var co = 0u; co < u.CO; co++) { acc = fma(a[db + co], b[wb + co], acc); }
    }
  }
  out[i] = acc;
}

@compute @workgroup_size(WG)
fn wgrad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.total * u.splits) { return; }
  let e = i % u.total;
  let s = i / u.total;
  let co = e % u.CO;
  let t0 = e / u.CO;
  let ci = t0 % u.C;
  let t1 = t0 / u.C;
  let kw = t1 % u.KW;
  let kh = t1 / u.KW;
  let start = s * u.chunk;
  let end = min(u.M, start + u.chunk);
  var acc = 0.0;
  for (var m = start; m < end; m++) {
    let ow = m % u.OW;
    let t = m / u.OW;
    let oh = t % u.OH;
    let n = t / u.OH;
    let ih = i32(oh * u.S + kh) - i32(u.P);
    let iw = i32(ow * u.S + kw) - i32(u.P);
    if (ih < 0 || ih >= i32(u.H) || iw < 0 || iw >= i32(u.W)) { continue; }
    acc = fma(a[((n * u.H + u32(ih)) * u.W + u32(iw)) * u.C + ci], b[m * u.CO + co], acc);
  }
  out[i] = acc;
}
