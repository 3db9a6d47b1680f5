// Optimizer updates, in place over one parameter tensor (PyTorch semantics).
// sgd:  g' = g + wd·p;  buf = first ? g' : momentum·buf + g';  p -= lr·(momentum > 0 ? buf : g')
// adam: g' = g + wd·p;  m = b1·m + (1−b1)·g';  v = b2·v + (1−b2)·g'²;
//       p -= (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps)      with bc_i = 1 − b_i^step
// bindings: 0 uniforms, 1 p (rw), 2 g, 3 m / momentum buffer (rw), 4 v (rw, adam only)
override WG: u32 = 64u;

struct U {
  n: u32,
  first: u32,
  lr: f32,
  momentum: f32,
  wd: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  bc1: f32,
  sqrtBc2: f32,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

fn index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn sgd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= u.n) { return; }
  let gi = g[i] + u.wd * p[i];
  if (u.momentum == 0.0) {
    p[i] -= u.lr * gi;
    return;
  }
  var buf = gi;
  if (u.first == 0u) { buf = u.momentum * m[i] + gi; }
  m[i] = buf;
  p[i] -= u.lr * buf;
}

@compute @workgroup_size(WG)
fn adam(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= u.n) { return; }
  let gi = g[i] + u.wd * p[i];
  let mi = u.beta1 * m[i] + (1.0 - u.beta1) * gi;
  let vi = u.beta2 * v[i] + (1.0 - u.beta2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  p[i] -= (u.lr / u.bc1) * mi / (sqrt(vi) / u.sqrtBc2 + u.eps);
}
