// Strided copy: for every index c of the iteration `shape` (rank <= 8),
//   out[obase + sum c_d * ostride_d] = x[ibase + sum c_d * istride_d]
// which covers permute/transpose, slice, concat (copy into a region), pad and broadcast
// (istride 0). `flip` is the same copy with the input coordinate of every axis d whose bit is
// set in u.flip reversed (c -> dim - 1 - c). `fill` writes a constant (u.value, raw bits) into
// the first n elements.
// Elements are moved as u32 bit patterns, so f32 and i32 tensors copy exactly.
// bindings: 0 uniforms, 1 x, 2 out
override WG: u32 = 64u;

struct U {
  n: u32,
  rank: u32,
  ibase: u32,
  obase: u32,
  value: u32,
  flip: u32,
  pad1: u32,
  pad2: u32,
  shape: array<vec4u, 2>,
  istride: array<vec4u, 2>,
  ostride: array<vec4u, 2>,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

// (input offset, output offset) of iteration index i; input axes whose bit is set in `flip` are
// read reversed (0 for the plain copies, a constant the compiler folds away)
fn offsets(i: u32, flip: u32) -> vec2u {
  var rem = i;
  var io = u.ibase;
  var oo = u.obase;
  for (var d = i32(u.rank) - 1; d >= 0; d--) {
    let dim = u.shape[d / 4][d % 4];
    let c = rem % dim;
    rem = rem / dim;
    io += select(c, dim - 1u - c, ((flip >> u32(d)) & 1u) == 1u) * u.istride[d / 4][d % 4];
    oo += c * u.ostride[d / 4][d % 4];
  }
  return vec2u(io, oo);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.n) { return; }
  let o = offsets(i, 0u);
  out[o.y] = x[o.x];
}

@compute @workgroup_size(WG)
fn flip(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.n) { return; }
  let o = offsets(i, u.flip);
  out[o.y] = x[o.x];
}

@compute @workgroup_size(WG)
fn fill(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.n) { return; }
  out[i] = u.value;
}

// The same copy in units of 4 elements (the host divides the innermost size, the strides and the
// bases by 4 when all allow it): four times fewer loads, which is what costs on lavapipe.
@group(0) @binding(1) var<storage, read> x4: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> out4: array<vec4u>;

@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.n) { return; }
  let o = offsets(i, 0u);
  out4[o.y] = x4[o.x];
}

// Broadcast of one element to a whole contiguous output (the gradient of a full reduction):
// out4[i] = x[ibase] splatted, for i < n (n counts vec4s).
@compute @workgroup_size(WG)
fn splat4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= u.n) { return; }
  out4[i] = vec4u(x[u.ibase]);
}
