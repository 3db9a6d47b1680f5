// Reduction (sum or max) of `x` over a set of axes. The input is described as kept dimensions
// (kshape/kstride) and reduced dimensions (rshape/rstride), rank <= 8 each. Invocation i handles
// output o = i % nOut over the slice [s*chunk, (s+1)*chunk) of the reduced index space, s = i / nOut,
// and writes out[s*nOut + o]: with several slices the host reduces the partials in a second pass
// (deterministic, no atomics). The result is multiplied by `scale` (1/count for a mean).
// bindings: 0 uniforms, 1 x, 2 out
override OP: u32 = 0u; // 0 sum, 1 max
override WG: u32 = 64u;

struct U {
  nOut: u32,
  nRed: u32,
  rankK: u32,
  rankR: u32,
  chunk: u32,
  splits: u32,
  scale: f32,
  pad0: u32,
  kshape: array<vec4u, 2>,
  kstride: array<vec4u, 2>,
  rshape: array<vec4u, 2>,
  rstride: array<vec4u, 2>,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.nOut * u.splits) { return; }
  let o = i % u.nOut;
  let s = i / u.nOut;
  var rem = o;
  var base = 0u;
  for (var d = i32(u.rankK) - 1; d >= 0; d--) {
    let dim = u.kshape[d / 4][d % 4];
    base += (rem % dim) * u.kstride[d / 4][d % 4];
    rem = rem / dim;
  }
  let start = s * u.chunk;
  let end = min(u.nRed, start + u.chunk);
  var acc = select(0.0, -3.0e38, OP == 1u);
  // Fast path: a single reduced axis (the common case) needs no index decomposition.
  if (u.rankR == 1u) {
    let st = u.rstride[0][0];
    for (var r = start; r < end; r++) {
      let v = x[base + r * st];
      if (OP == 1u) { acc = max(acc, v); } else { acc += v; }
    }
  } else {
    for (var r = start; r < end; r++) {
      var rr = r;
      var off = base;
      for (var d = i32(u.rankR) - 1; d >= 0; d--) {
        let dim = u.rshape[d / 4][d % 4];
        off += (rr % dim) * u.rstride[d / 4][d % 4];
        rr = rr / dim;
      }
      let v = x[off];
      if (OP == 1u) { acc = max(acc, v); } else { acc += v; }
    }
  }
  out[s * u.nOut + o] = acc * u.scale;
}
