// What one storage load costs on this adapter, by address pattern (bench/cases/loads.ts): every
// invocation of an 8-wide workgroup runs `iters` steps, each step reading one vec4 and feeding it
// into two FMA chains (the FMAs are cheap next to the loads on lavapipe, so the time is the loads').
// - main_divergent: lane l reads element 8i + l (every lane its own address, contiguous per step);
// - main_uniform: every lane reads element i (one address per step, known to be uniform);
// - main_broadcast: lane l reads element i + l once per 8 steps and the lanes exchange the values
//   with constant-lane subgroupBroadcast (the conv and matmul kernels' pattern).
// On Mesa 25.0 lavapipe the first two cost the same (~0.6 ns per lane and component: a per-lane
// loop), which is why the kernels broadcast; a Mesa that loads uniform addresses once would show
// main_uniform far cheaper here.
// bindings: 0 uniforms, 1 x (vec4, read), 2 out
enable subgroups;

struct U { iters: u32, span: u32, p0: u32, p1: u32 };

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;

fn base(wid: vec3u) -> u32 {
  return (wid.x * 97u) % u.span * 8u;
}

@compute @workgroup_size(8)
fn main_divergent(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) l: u32) {
  let b0 = base(wid);
  var a = vec4f(f32(l));
  var c = vec4f(0.0);
  for (var i = 0u; i < u.iters; i += 2u) {
    a = fma(x4[b0 + i * 8u + l], a, a);
    c = fma(x4[b0 + i * 8u + 8u + l], c, c);
  }
  out[wid.x * 8u + l] = a + c;
}

@compute @workgroup_size(8)
fn main_uniform(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) l: u32) {
  let b0 = base(wid);
  var a = vec4f(f32(l));
  var c = vec4f(0.0);
  for (var i = 0u; i < u.iters; i += 2u) {
    a = fma(x4[b0 + i], a, a);
    c = fma(x4[b0 + i + 1u], c, c);
  }
  out[wid.x * 8u + l] = a + c;
}

@compute @workgroup_size(8)
fn main_broadcast(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) l: u32) {
  let b0 = base(wid);
  var a = vec4f(f32(l));
  var c = vec4f(0.0);
  for (var i = 0u; i < u.iters; i += 8u) {
    let w = x4[b0 + i + l];
    a = fma(subgroupBroadcast(w, 0u), a, a);
    c = fma(subgroupBroadcast(w, 1u), c, c);
    a = fma(subgroupBroadcast(w, 2u), a, a);
    c = fma(subgroupBroadcast(w, 3u), c, c);
    a = fma(subgroupBroadcast(w, 4u), a, a);
    c = fma(subgroupBroadcast(w, 5u), c, c);
    a = fma(subgroupBroadcast(w, 6u), a, a);
    c = fma(subgroupBroadcast(w, 7u), c, c);
  }
  out[wid.x * 8u + l] = a + c;
}
