// Binary cross-entropy on probabilities (PyTorch BCELoss), elementwise:
//   loss = -(t * max(log p, -100) + (1 - t) * max(log(1 - p), -100))
// bce_bwd_p / bce_bwd_t / bce_bwd_pt (dp, dt or both), with gg = g[i] or g[0] (GSCALAR = 1) times scale:
//   dp = gg * (p - t) / max((1 - p) * p, 1e-12)      (PyTorch's formula)
//   dt = gg * (max(log(1 - p), -100) - max(log p, -100))
// bindings: 0 uniforms, 1 p, 2 t, 3 loss (fwd) / g (bwd), 4 dp, 5 dt
override GSCALAR: u32 = 0u;
const WG: u32 = 64u;

struct U {
  n: u32,
  pad0: u32,
  scale: f32,
  pad1: u32,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> p: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> lg: array<f32>;
@group(0) @binding(4) var<storage, read_write> dp: array<f32>;
@group(0) @binding(5) var<storage, read_write> dt: array<f32>;

fn clamped_logs(pv: f32) -> vec2f {
  return vec2f(max(log(pv), -100.0), max(log(1.0 - pv), -100.0));
}

@compute @workgroup_size(WG)
fn bce_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.n) { return; }
  let l = clamped_logs(p[i]);
  let tv = t[i];
  lg[i] = -(tv * l.x + (1.0 - tv) * l.y);
}

fn grad_out(i: u32) -> f32 {
  var g = 0.0;
  if (GSCALAR == 1u) { g = lg[0]; } else { g = lg[i]; }
  return g * u.scale;
}

fn grad_p(i: u32, g: f32) {
  let pv = p[i];
  dp[i] = g * (pv - t[i]) / max((1.0 - pv) * pv, 1e-12);
}

fn grad_t(i: u32, g: f32) {
  let l = clamped_logs(p[i]);
  dt[i] = g * (l.y - l.x);
}

@compute @workgroup_size(WG)
fn bce_bwd_p(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.n) { return; }
  grad_p(i, grad_out(i));
}

@compute @workgroup_size(WG)
fn bce_bwd_t(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.n) { return; }
  grad_t(i, grad_out(i));
}

@compute @workgroup_size(WG)
fn bce_bwd_pt(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.n) { return; }
  let g = grad_out(i);
  grad_p(i, g);
  grad_t(i, g);
}
