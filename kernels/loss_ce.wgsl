// Cross-entropy with integer targets, fused: per row of logits x [rows, cols]
//   loss[r] = logsumexp(x[r, :]) - x[r, t[r]]    (max-subtracted)
// and, in ce_fwd_grad, what the backward needs:
//   dl[r, c] = softmax(x[r, :])[c] - [c == t[r]]
// A target outside [0, cols) never reads out of bounds: its loss is NaN (so the mistake shows in
// the loss) and its dl row is 0.
// ce_bwd: dx[i] = dl[i] * g[r or 0] * scale (GSCALAR = 1: g is the gradient of a mean/sum).
// Layouts as in softmax.wgsl (ROWWG 0: one invocation per row; 1: one workgroup per row).
// bindings: 0 uniforms, 1 x (or dl), 2 targets i32, 3 loss / g, 4 dl / dx
override ROWWG: u32 = 0u;
override GSCALAR: u32 = 0u;
const WG: u32 = 64u;

struct U {
  rows: u32,
  cols: u32,
  scale: f32,
  nanbits: u32,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> tgt: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dl: array<f32>;

// @include lib/rows.wgsl

// The row's loss; returns (max, sum of exp(x - max), clamped target, 1 if the target is valid).
fn ce_row(r: Row, lid: u32) -> vec4f {
  let n = select(0u, u.cols, r.live);
  var m = -3.0e38;
  for (var c = r.lane; c < n; c += r.step) { m = max(m, x[r.base + c]); }
  m = row_max(m, lid);
  var s = 0.0;
  for (var c = r.lane; c < n; c += r.step) { s += exp(x[r.base + c] - m); }
  s = row_sum(s, lid);
  var t = -1;
  if (r.live) { t = tgt[r.row]; }
  let valid = t >= 0 && t < i32(u.cols);
  let tc = u32(clamp(t, 0, max(i32(u.cols) - 1, 0)));
  if (r.live && r.lane == 0u) {
    let l = log(s) - (x[r.base + tc] - m);
    loss[r.row] = select(bitcast<f32>(u.nanbits), l, valid);
  }
  return vec4f(m, s, f32(tc), select(0.0, 1.0, valid));
}

@compute @workgroup_size(WG)
fn ce_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  _ = ce_row(row_of(wid, nwg, lid), lid);
}

@compute @workgroup_size(WG)
fn ce_fwd_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = row_of(wid, nwg, lid);
  let st = ce_row(r, lid);
  let n = select(0u, u.cols, r.live);
  let inv = 1.0 / st.y;
  let tc = u32(st.z);
  let valid = st.w > 0.5;
  for (var c = r.lane; c < n; c += r.step) {
    let p = exp(x[r.base + c] - st.x) * inv;
    dl[r.base + c] = select(0.0, p - select(0.0, 1.0, c == tc), valid);
  }
}

@compute @workgroup_size(WG)
fn ce_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.rows * u.cols) { return; }
  var g = 0.0;
  if (GSCALAR == 1u) { g = loss[0]; } else { g = loss[i / u.cols]; }
  dl[i] = x[i] * g * u.scale;
}
