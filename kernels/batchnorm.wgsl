// BatchNorm2d over NHWC activations viewed as a [rows, C] matrix (rows = N·H·W): every statistic
// is a column reduction, so invocations own channels (consecutive lanes read consecutive
// addresses) and loop over a slab of rows; a second, per-channel pass merges the slabs.
//
// Forward (training):  stats_partial (Welford per (slab, channel)) -> finalize_train (Chan merge,
//                      running-stat update) -> normalize (y = (x − mean)·γ·invstd + β)
// Forward (eval):      finalize_eval (the same from the running stats) -> normalize
// Backward:            grad_partial (Σdy, Σdy·(x−mean) per slab) -> grad_finalize (dγ, dβ and the
//                      per-channel coefficients of dx = a·dy + b·(x − mean) + c) -> grad_x;
//                      grad_x_eval (dx = dy·γ·invstd) when only dx is needed in eval mode.
//
// Buffers: partial [slabs, 2, C]; stats [5, C] = K, μ, invstd, scale = γ·invstd, β with the batch
// mean = K + μ; coef [3, C] = a, b, c.
// Precision when |mean| >> std: every statistic is accumulated on x − K with the shift K = the
// channel's first value (training) or the running mean (eval), and x − mean is always formed as
// (x − K) − μ (x − K is exact near K) before scaling; x·scale + shift would cancel badly.
// RELU = 1 fuses a ReLU after the normalisation (y = max(bn(x), 0)): the backward passes mask dy
// with bn(x) > 0, recomputed from x and stats exactly as the forward computed it, so neither the
// ReLU's own pass nor its gradient pass (nor a stored mask) is needed.
// normalize_res(4) adds a residual r before the (optional) ReLU: y = max(bn(x) + r, 0), the
// training-mode tail of a ResNet block in one pass instead of three (normalize, add, ReLU). Its
// backward masks dy with y > 0 first (src/ops/norm.ts), so the passes above run with RELU = 0.
// bindings: 0 uniforms, 1 x, 2 partial, 3 stats, 4 runMean / dgamma, 5 runVar / dbeta, 6 gamma,
//           7 beta, 8 out (y or dx), 9 dy, 10 coef, 11 res
override WG: u32 = 64u;
override RELU: u32 = 0u;

struct U {
  rows: u32,
  C: u32,
  slabRows: u32,
  slabs: u32,
  eps: f32,
  momentum: f32,
  training: u32,
  pad0: u32,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> aux0: array<f32>;
@group(0) @binding(5) var<storage, read_write> aux1: array<f32>;
@group(0) @binding(6) var<storage, read> gamma: array<f32>;
@group(0) @binding(7) var<storage, read> beta: array<f32>;
@group(0) @binding(8) var<storage, read_write> out: array<f32>;
@group(0) @binding(9) var<storage, read> dy: array<f32>;
@group(0) @binding(10) var<storage, read_write> coef: array<f32>;
@group(0) @binding(11) var<storage, read> res: array<f32>;

fn flat(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

// Welford mean / M2 of channel c over the rows of slab s.
@compute @workgroup_size(WG)
fn stats_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= u.slabs * u.C) { return; }
  let c = i % u.C;
  let s = i / u.C;
  let r0 = s * u.slabRows;
  let r1 = min(u.rows, r0 + u.slabRows);
  let K = x[c];
  var mean = 0.0;
  var m2 = 0.0;
  var n = 0.0;
  for (var r = r0; r < r1; r++) {
    let v = x[r * u.C + c] - K;
    n += 1.0;
    let d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
  }
  partial[s * 2u * u.C + c] = mean;
  partial[s * 2u * u.C + u.C + c] = m2;
}

fn write_stats(c: u32, K: f32, mu: f32, invstd: f32) {
  stats[c] = K;
  stats[u.C + c] = mu;
  stats[2u * u.C + c] = invstd;
  stats[3u * u.C + c] = gamma[c] * invstd;
  stats[4u * u.C + c] = beta[c];
}

// x − batch mean, formed as (x − K) − μ
fn centered(v: f32, c: u32) -> f32 {
  return (v - stats[c]) - stats[u.C + c];
}

// dy of element (value v, channel c), zeroed where the fused ReLU's input bn(v) was <= 0
fn masked(g: f32, v: f32, c: u32) -> f32 {
  if (RELU == 0u) { return g; }
  return select(0.0, g, fma(centered(v, c), stats[3u * u.C + c], stats[4u * u.C + c]) > 0.0);
}

// Chan's parallel merge of the slab partials; biased variance normalises, the unbiased one
// enters the running variance (PyTorch semantics).
@compute @workgroup_size(WG)
fn finalize_train(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = flat(wid, nwg, lid);
  if (c >= u.C) { return; }
  var n = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (var s = 0u; s < u.slabs; s++) {
    let nb = f32(min(u.rows, (s + 1u) * u.slabRows) - s * u.slabRows);
    let mb = partial[s * 2u * u.C + c];
    let m2b = partial[s * 2u * u.C + u.C + c];
    let tot = n + nb;
    let d = mb - mean;
    mean += d * (nb / tot);
    m2 += m2b + d * d * (n * nb / tot);
    n = tot;
  }
  let varB = m2 / n;
  let varU = m2 / max(n - 1.0, 1.0);
  let K = x[c];
  write_stats(c, K, mean, inverseSqrt(varB + u.eps));
  let m = u.momentum;
  aux0[c] = (1.0 - m) * aux0[c] + m * (K + mean);
  aux1[c] = (1.0 - m) * aux1[c] + m * varU;
}

@compute @workgroup_size(WG)
fn finalize_eval(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = flat(wid, nwg, lid);
  if (c >= u.C) { return; }
  write_stats(c, aux0[c], 0.0, inverseSqrt(aux1[c] + u.eps));
}

@compute @workgroup_size(WG)
fn normalize(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= u.rows * u.C) { return; }
  let c = i % u.C;
  let y = fma(centered(x[i], c), stats[3u * u.C + c], stats[4u * u.C + c]);
  out[i] = select(y, max(y, 0.0), RELU == 1u);
}

@compute @workgroup_size(WG)
fn normalize_res(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= u.rows * u.C) { return; }
  let c = i % u.C;
  let y = fma(centered(x[i], c), stats[3u * u.C + c], stats[4u * u.C + c]) + res[i];
  out[i] = select(y, max(y, 0.0), RELU == 1u);
}

// Σdy and Σdy·(x − mean) of channel c over slab s (mean = batch or running mean, from stats).
@compute @workgroup_size(WG)
fn grad_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= u.slabs * u.C) { return; }
  let c = i % u.C;
  let s = i / u.C;
  let r0 = s * u.slabRows;
  let r1 = min(u.rows, r0 + u.slabRows);
  var sg = 0.0;
  var sgx = 0.0;
  for (var r = r0; r < r1; r++) {
    let v = x[r * u.C + c];
    let g = masked(dy[r * u.C + c], v, c);
    sg += g;
    sgx += g * centered(v, c);
  }
  partial[s * 2u * u.C + c] = sg;
  partial[s * 2u * u.C + u.C + c] = sgx;
}

// dγ = invstd·Σdy(x−mean), dβ = Σdy. Training: dx = γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂))
// = a·dy + b·(x − mean) + c with a = γ·invstd, b = −a·invstd²·Σdy(x−mean)/M, c = −a·Σdy/M.
@compute @workgroup_size(WG)
fn grad_finalize(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = flat(wid, nwg, lid);
  if (c >= u.C) { return; }
  var sg = 0.0;
  var sgx = 0.0;
  for (var s = 0u; s < u.slabs; s++) {
    sg += partial[s * 2u * u.C + c];
    sgx += partial[s * 2u * u.C + u.C + c];
  }
  let invstd = stats[2u * u.C + c];
  aux0[c] = sgx * invstd;
  aux1[c] = sg;
  let a = gamma[c] * invstd;
  var b = 0.0;
  var k = 0.0;
  if (u.training != 0u) {
    let M = f32(u.rows);
    b = -a * invstd * invstd * sgx / M;
    k = -a * sg / M;
  }
  coef[c] = a;
  coef[u.C + c] = b;
  coef[2u * u.C + c] = k;
}

@compute @workgroup_size(WG)
fn grad_x(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= u.rows * u.C) { return; }
  let c = i % u.C;
  out[i] = coef[c] * masked(dy[i], x[i], c) + coef[u.C + c] * centered(x[i], c) + coef[2u * u.C + c];
}

@compute @workgroup_size(WG)
fn grad_x_eval(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= u.rows * u.C) { return; }
  let c = i % u.C;
  out[i] = dy[i] * stats[3u * u.C + c];
}

// vec4-over-channels variants of the three elementwise passes (C % 4 == 0): on lavapipe each
// load costs about the same whatever its width, so four channels per load is ~4x cheaper.
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> stats4: array<vec4f>;
@group(0) @binding(8) var<storage, read_write> out4: array<vec4f>;
@group(0) @binding(9) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(10) var<storage, read_write> coef4: array<vec4f>;
@group(0) @binding(11) var<storage, read> res4: array<vec4f>;

// Each invocation walks RPI rows of one channel group, so the per-channel values (stats, coef)
// are loaded once per RPI elements: on lavapipe every load costs, whatever it reads. A GPU wants
// RPI 1 (neighbouring invocations at neighbouring addresses; src/ops/memory-plan.ts).
override RPI: u32 = 4u;

@compute @workgroup_size(WG)
fn normalize4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  let C4 = u.C / 4u;
  if (i >= ((u.rows + RPI - 1u) / RPI) * C4) { return; }
  let c = i % C4;
  let r0 = (i / C4) * RPI;
  let K = stats4[c];
  let mu = stats4[C4 + c];
  let sc = stats4[3u * C4 + c];
  let sh = stats4[4u * C4 + c];
  for (var r = r0; r < min(r0 + RPI, u.rows); r++) {
    let j = r * C4 + c;
    let y = fma((x4[j] - K) - mu, sc, sh);
    out4[j] = select(y, max(y, vec4f(0.0)), RELU == 1u);
  }
}

@compute @workgroup_size(WG)
fn normalize_res4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  let C4 = u.C / 4u;
  if (i >= ((u.rows + RPI - 1u) / RPI) * C4) { return; }
  let c = i % C4;
  let r0 = (i / C4) * RPI;
  let K = stats4[c];
  let mu = stats4[C4 + c];
  let sc = stats4[3u * C4 + c];
  let sh = stats4[4u * C4 + c];
  for (var r = r0; r < min(r0 + RPI, u.rows); r++) {
    let j = r * C4 + c;
    let y = fma((x4[j] - K) - mu, sc, sh) + res4[j];
    out4[j] = select(y, max(y, vec4f(0.0)), RELU == 1u);
  }
}

// masked() over four channels: xc = x − mean, ss = (scale, β) of those channels (reluCoef4)
fn masked4(g: vec4f, xc: vec4f, ss: array<vec4f, 2>) -> vec4f {
  if (RELU == 0u) { return g; }
  return select(vec4f(0.0), g, fma(xc, ss[0], ss[1]) > vec4f(0.0));
}

// (scale, β) of channel group c, loaded only when the ReLU is fused
fn reluCoef4(c: u32) -> array<vec4f, 2> {
  if (RELU == 0u) { return array<vec4f, 2>(vec4f(0.0), vec4f(0.0)); }
  let C4 = u.C / 4u;
  return array<vec4f, 2>(stats4[3u * C4 + c], stats4[4u * C4 + c]);
}

@compute @workgroup_size(WG)
fn grad_x4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  let C4 = u.C / 4u;
  if (i >= ((u.rows + RPI - 1u) / RPI) * C4) { return; }
  let c = i % C4;
  let r0 = (i / C4) * RPI;
  let K = stats4[c];
  let mu = stats4[C4 + c];
  let ss = reluCoef4(c);
  let a = coef4[c];
  let b = coef4[C4 + c];
  let k = coef4[2u * C4 + c];
  for (var r = r0; r < min(r0 + RPI, u.rows); r++) {
    let j = r * C4 + c;
    let xc = (x4[j] - K) - mu;
    out4[j] = a * masked4(dy4[j], xc, ss) + b * xc + k;
  }
}

@compute @workgroup_size(WG)
fn grad_x_eval4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  let C4 = u.C / 4u;
  if (i >= ((u.rows + RPI - 1u) / RPI) * C4) { return; }
  let c = i % C4;
  let r0 = (i / C4) * RPI;
  let sc = stats4[3u * C4 + c];
  for (var r = r0; r < min(r0 + RPI, u.rows); r++) {
    out4[r * C4 + c] = dy4[r * C4 + c] * sc;
  }
}

@group(0) @binding(2) var<storage, read_write> partial4: array<vec4f>;

// stats_partial and grad_partial over four channels at a time (C % 4 == 0), same layouts.
@compute @workgroup_size(WG)
fn stats_partial4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  let C4 = u.C / 4u;
  if (i >= u.slabs * C4) { return; }
  let c = i % C4;
  let s = i / C4;
  let r0 = s * u.slabRows;
  let r1 = min(u.rows, r0 + u.slabRows);
  let K = x4[c];
  var mean = vec4f(0.0);
  var m2 = vec4f(0.0);
  var n = 0.0;
  for (var r = r0; r < r1; r++) {
    let v = x4[r * C4 + c] - K;
    n += 1.0;
    let d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
  }
  partial4[s * 2u * C4 + c] = mean;
  partial4[s * 2u * C4 + C4 + c] = m2;
}

@compute @workgroup_size(WG)
fn grad_partial4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  let C4 = u.C / 4u;
  if (i >= u.slabs * C4) { return; }
  let c = i % C4;
  let s = i / C4;
  let r0 = s * u.slabRows;
  let r1 = min(u.rows, r0 + u.slabRows);
  let K = stats4[c];
  let mu = stats4[C4 + c];
  let ss = reluCoef4(c);
  var sg = vec4f(0.0);
  var sgx = vec4f(0.0);
  for (var r = r0; r < r1; r++) {
    let xc = (x4[r * C4 + c] - K) - mu;
    let g = masked4(dy4[r * C4 + c], xc, ss);
    sg += g;
    sgx += g * xc;
  }
  partial4[s * 2u * C4 + c] = sg;
  partial4[s * 2u * C4 + C4 + c] = sgx;
}
