// 2-D pooling over NHWC activations, one invocation per element (channels innermost, so the lanes
// of a workgroup read consecutive addresses).
//   max_fwd: y = max over the window (padding taps are skipped, i.e. −inf), arg = the argmax as
//            a flat input position iy·W + ix (first maximum wins, like PyTorch).
//   max_bwd: a gather: each input element sums dy over the (at most ceil(K/S)² ) outputs whose
//            window contains it and whose argmax is that element. Deterministic, no atomics.
//   avg_fwd / avg_bwd: average pooling with stride = kernel and no padding (global average
//            pooling is the kernel H×W case); `scale` = 1/(KH·KW).
// bindings: 0 uniforms, 1 x (or dy for the backward passes), 2 out, 3 arg (i32)
override WG: u32 = 64u;

struct U {
  N: u32, H: u32, W: u32, C: u32,
  OH: u32, OW: u32, KH: u32, KW: u32,
  SH: u32, SW: u32, PH: u32, PW: u32,
  total: u32, scale: f32, pad0: u32, pad1: u32,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> arg: array<i32>;

fn flat(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn max_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= u.total) { return; }
  let c = i % u.C;
  var t = i / u.C;
  let ox = t % u.OW;
  t = t / u.OW;
  let oy = t % u.OH;
  let n = t / u.OH;
  let y0 = i32(oy * u.SH) - i32(u.PH);
  let x0 = i32(ox * u.SW) - i32(u.PW);
  var best = 0.0;
  var bi = -1;
  for (var ky = 0; ky < i32(u.KH); ky++) {
    let iy = y0 + ky;
    if (iy < 0 || iy >= i32(u.H)) { continue; }
    for (var kx = 0; kx < i32(u.KW); kx++) {
      let ix = x0 + kx;
      if (ix < 0 || ix >= i32(u.W)) { continue; }
      let p = iy * i32(u.W) + ix;
      let v = x[(n * u.H * u.W + u32(p)) * u.C + c];
      if (bi < 0 || v > best) {
        best = v;
        bi = p;
      }
    }
  }
  out[i] = best;
  arg[i] = bi;
}

@compute @workgroup_size(WG)
fn max_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= u.total) { return; }
  let c = i % u.C;
  var t = i / u.C;
  let ix = t % u.W;
  t = t / u.W;
  let iy = t % u.H;
  let n = t / u.H;
  let p = i32(iy * u.W + ix);
  // outputs o with o·S − P <= i <= o·S − P + K − 1
  let ylo = max(0, (i32(iy + u.PH) - i32(u.KH) + i32(u.SH)) / i32(u.SH));
  let yhi = min(i32(u.OH) - 1, i32(iy + u.PH) / i32(u.SH));
  let xlo = max(0, (i32(ix + u.PW) - i32(u.KW) + i32(u.SW)) / i32(u.SW));
  let xhi = min(i32(u.OW) - 1, i32(ix + u.PW) / i32(u.SW));
  var acc = 0.0;
  for (var oy = ylo; oy <= yhi; oy++) {
    for (var ox = xlo; ox <= xhi; ox++) {
      let o = ((n * u.OH + u32(oy)) * u.OW + u32(ox)) * u.C + c;
      if (arg[o] == p) { acc += x[o]; }
    }
  }
  out[i] = acc;
}

@compute @workgroup_size(WG)
fn avg_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= u.total) { return; }
  let c = i % u.C;
  var t = i / u.C;
  let ox = t % u.OW;
  t = t / u.OW;
  let oy = t % u.OH;
  let n = t / u.OH;
  var acc = 0.0;
  for (var ky = 0u; ky < u.KH; ky++) {
    let row = (n * u.H + oy * u.KH + ky) * u.W + ox * u.KW;
    for (var kx = 0u; kx < u.KW; kx++) {
      acc += x[(row + kx) * u.C + c];
    }
  }
  out[i] = acc * u.scale;
}

@compute @workgroup_size(WG)
fn avg_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= u.total) { return; }
  let c = i % u.C;
  var t = i / u.C;
  let ix = t % u.W;
  t = t / u.W;
  let iy = t % u.H;
  let n = t / u.H;
  let oy = iy / u.KH;
  let ox = ix / u.KW;
  var v = 0.0;
  if (oy < u.OH && ox < u.OW) {
    v = x[((n * u.OH + oy) * u.OW + ox) * u.C + c] * u.scale;
  }
  out[i] = v;
}

// vec4-over-channels variants of max pooling (C % 4 == 0): one invocation per 4 channels, so one
// vec4 load instead of four scalar ones per tap (on lavapipe every load is a per-lane loop).
// `total` counts vec4s. Same bindings as above, viewed as vec4s.
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> arg4: array<vec4i>;

@compute @workgroup_size(WG)
fn max_fwd4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= u.total) { return; }
  let C4 = u.C / 4u;
  let c4 = i % C4;
  var t = i / C4;
  let ox = t % u.OW;
  t = t / u.OW;
  let oy = t % u.OH;
  let n = t / u.OH;
  let y0 = i32(oy * u.SH) - i32(u.PH);
  let x0 = i32(ox * u.SW) - i32(u.PW);
  var best = vec4f(0.0);
  var bi = vec4i(-1);
  for (var ky = 0; ky < i32(u.KH); ky++) {
    let iy = y0 + ky;
    if (iy < 0 || iy >= i32(u.H)) { continue; }
    for (var kx = 0; kx < i32(u.KW); kx++) {
      let ix = x0 + kx;
      if (ix < 0 || ix >= i32(u.W)) { continue; }
      let p = iy * i32(u.W) + ix;
      let v = x4[(n * u.H * u.W + u32(p)) * C4 + c4];
      // first maximum wins (strict >), like the scalar kernel and PyTorch
      let take = (bi < vec4i(0)) | (v > best);
      best = select(best, v, take);
      bi = select(bi, vec4i(p), take);
    }
  }
  out4[i] = best;
  arg4[i] = bi;
}

@compute @workgroup_size(WG)
fn max_bwd4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= u.total) { return; }
  let C4 = u.C / 4u;
  let c4 = i % C4;
  var t = i / C4;
  let ix = t % u.W;
  t = t / u.W;
  let iy = t % u.H;
  let n = t / u.H;
  let p = vec4i(i32(iy * u.W + ix));
  let ylo = max(0, (i32(iy + u.PH) - i32(u.KH) + i32(u.SH)) / i32(u.SH));
  let yhi = min(i32(u.OH) - 1, i32(iy + u.PH) / i32(u.SH));
  let xlo = max(0, (i32(ix + u.PW) - i32(u.KW) + i32(u.SW)) / i32(u.SW));
  let xhi = min(i32(u.OW) - 1, i32(ix + u.PW) / i32(u.SW));
  var acc = vec4f(0.0);
  for (var oy = ylo; oy <= yhi; oy++) {
    for (var ox = xlo; ox <= xhi; ox++) {
      let o = ((n * u.OH + u32(oy)) * u.OW + u32(ox)) * C4 + c4;
      acc += select(vec4f(0.0), x4[o], arg4[o] == p);
    }
  }
  out4[i] = acc;
}
