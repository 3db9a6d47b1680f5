// Row-wise ops over the last axis, the input seen as a [rows, cols] matrix:
//   softmax_fwd / softmax_bwd  softmax (LOG = 0) or log-softmax (LOG = 1), max-subtracted
//   l2_fwd / l2_bwd            z = x / max(||x||, eps); the forward also stores ||x|| per row in aux
// Two layouts, chosen per pipeline by ROWWG:
//   0: one invocation per row, WG rows per workgroup (short rows such as 10 classes);
//   1: one workgroup per row (long rows): lanes stride over the row and combine their partial
//      max/sum with a shared-memory tree.
// Entry points never return early, so the barriers of layout 1 stay in uniform control flow.
// bindings: 0 uniforms, 1 a, 2 b, 3 out, 4 aux
//   softmax_fwd: a = x, out = y          softmax_bwd: a = y, b = dy, out = dx
//   l2_fwd: a = x, out = z, aux = norms  l2_bwd: a = z, b = dz, aux = norms, out = dx
override ROWWG: u32 = 0u;
override LOG: u32 = 0u;
const WG: u32 = 64u;

struct U {
  rows: u32,
  cols: u32,
  eps: f32,
  pad0: u32,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> aux: array<f32>;

// @include lib/rows.wgsl

@compute @workgroup_size(WG)
fn softmax_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = row_of(wid, nwg, lid);
  let n = select(0u, u.cols, r.live);
  var m = -3.0e38;
  for (var c = r.lane; c < n; c += r.step) { m = max(m, a[r.base + c]); }
  m = row_max(m, lid);
  var s = 0.0;
  for (var c = r.lane; c < n; c += r.step) { s += exp(a[r.base + c] - m); }
  s = row_sum(s, lid);
  let ls = log(s);
  let inv = 1.0 / s;
  for (var c = r.lane; c < n; c += r.step) {
    let v = a[r.base + c] - m;
    if (LOG == 1u) { out[r.base + c] = v - ls; } else { out[r.base + c] = exp(v) * inv; }
  }
}

// softmax: dx = y * (dy - sum(dy * y));  log-softmax: dx = dy - exp(y) * sum(dy)
@compute @workgroup_size(WG)
fn softmax_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = row_of(wid, nwg, lid);
  let n = select(0u, u.cols, r.live);
  var s = 0.0;
  for (var c = r.lane; c < n; c += r.step) {
    let g = b[r.base + c];
    if (LOG == 1u) { s += g; } else { s += g * a[r.base + c]; }
  }
  s = row_sum(s, lid);
  for (var c = r.lane; c < n; c += r.step) {
    let y = a[r.base + c];
    let g = b[r.base + c];
    if (LOG == 1u) { out[r.base + c] = g - exp(y) * s; } else { out[r.base + c] = y * (g - s); }
  }
}

@compute @workgroup_size(WG)
fn l2_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = row_of(wid, nwg, lid);
  let n = select(0u, u.cols, r.live);
  var ss = 0.0;
  for (var c = r.lane; c < n; c += r.step) { let v = a[r.base + c]; ss += v * v; }
  ss = row_sum(ss, lid);
  let nrm = sqrt(ss);
  let inv = 1.0 / max(nrm, u.eps);
  for (var c = r.lane; c < n; c += r.step) { out[r.base + c] = a[r.base + c] * inv; }
  if (r.live && r.lane == 0u) { aux[r.row] = nrm; }
}

// dx = (dz - z * (z . dz)) / ||x|| where ||x|| > eps, else dz / eps (the clamp's branch)
@compute @workgroup_size(WG)
fn l2_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = row_of(wid, nwg, lid);
  let n = select(0u, u.cols, r.live);
  var d = 0.0;
  for (var c = r.lane; c < n; c += r.step) { d += a[r.base + c] * b[r.base + c]; }
  d = row_sum(d, lid);
  var nrm = 0.0;
  if (r.live) { nrm = aux[r.row]; }
  let big = nrm > u.eps;
  let inv = 1.0 / max(nrm, u.eps);
  let k = select(0.0, d, big);
  for (var c = r.lane; c < n; c += r.step) { out[r.base + c] = (b[r.base + c] - a[r.base + c] * k) * inv; }
}
