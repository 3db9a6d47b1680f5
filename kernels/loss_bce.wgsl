// Binary cross-entropy on probabilities (PyTorch BCELoss), elementwise:
//   loss = -(t * max(log p, -100) + (1 - t) * max(log(1 - p), -100))
// bce_bwd (NEED bit 1: dp, bit 2: dt), with gg = g[i] or g[0] (GSCALAR = 1) times scale:
//   dp = gg * (p - t) / max((1 - p) * p, 1e-12)      (PyTorch's formula)
//   dt = gg * (max(log(1 - p), -100) - max(log p, -100))
// bindings: 0 uniforms, 1 p, 2 t, 3 loss (fwd) / g (bwd), 4 dp, 5 dt
override GSCALAR: u32 = 0u;
override NEED: u32 = 3u;
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

@compute @workgroup_size(WG)
fn bce_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.n) { return; }
  var g = 0.0;
  if (GSCALAR == 1u) { g = lg[0]; } else { g = lg[i]; }
  g *= u.scale;
  let pv = p[i];
  let tv = t[i];
  if ((NEED & 1u) != 0u) { dp[i] = g * (pv - tv) / max((1.0 - pv) * pv, 1e-12); }
  if ((NEED & 2u) != 0u) {
    let l = clamped_logs(pv);
    dt[i] = g * (l.y - l.x);
  }
}
