// Measures the adapter's FMA throughput (the benchmark's "peak"): every invocation runs `iters`
// rounds of 4 independent vec4 FMA chains, twice (32 FMA = 64 FLOP per round), then stores one
// value so the work cannot be optimised away. On lavapipe WG 8 (8 invocations = one 256-bit
// SIMD row, 16 live vector registers) was the fastest of the variants we measured (1-6 chains,
// workgroups of 8-256, deeper unrolling); more chains spill registers. A GPU needs far more
// invocations in flight: bench/cases/peak.ts also launches WG 256 and takes the faster.
// bindings: 0 uniforms, 1 out
override WG: u32 = 8u;

struct U { iters: u32, seed: f32, p0: u32, p1: u32 };

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let m = vec4f(0.9999, 0.9998, 0.9997, 0.9996);
  let c = vec4f(u.seed);
  var a0 = vec4f(f32(gid.x)); var a1 = a0 + 1.0; var a2 = a0 + 2.0; var a3 = a0 + 3.0;
  for (var i = 0u; i < u.iters; i++) {
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
  }
  let s = a0 + a1 + a2 + a3;
  out[gid.x] = s.x + s.y + s.z + s.w;
}
