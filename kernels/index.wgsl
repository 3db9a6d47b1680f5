// Index ops on the last (class) axis; x is seen as [rows, cols], indices are i32.
//   gather_cols    out[r, j] = x[r, idx[j]]                  (out [rows, ocols], idx [ocols])
//   scatter_add    out[r, idx[j]] += x[r, j]                 (out [rows, ocols] zero-filled, idx [cols];
//                  one invocation per row, so repeated indices add up without atomics)
//   take_along     out[r] = x[r, idx[r]]
//   take_along_bwd out[r, c] = g[r] * [c == idx[r]]           (g bound as x)
//   argmax_rows    iout[r] = first c with x[r, c] = max_c x[r, :]
//   one_hot        out[r, c] = [c == idx[r]]
// An index outside its range never reads or writes out of bounds: it gathers 0 and scatters nothing.
// bindings: 0 uniforms, 1 x, 2 idx, 3 out (f32), 4 iout (i32)
const WG: u32 = 64u;

struct U {
  rows: u32,
  cols: u32,
  ocols: u32,
  pad0: u32,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> iout: array<i32>;

fn flat_id(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

fn in_range(k: i32, n: u32) -> bool {
  return k >= 0 && u32(k) < n;
}

@compute @workgroup_size(WG)
fn gather_cols(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_id(wid, nwg, lid);
  if (i >= u.rows * u.ocols) { return; }
  let r = i / u.ocols;
  let k = idx[i % u.ocols];
  var v = 0.0;
  if (in_range(k, u.cols)) { v = x[r * u.cols + u32(k)]; }
  out[i] = v;
}

@compute @workgroup_size(WG)
fn scatter_add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = flat_id(wid, nwg, lid);
  if (r >= u.rows) { return; }
  for (var j = 0u; j < u.cols; j++) {
    let k = idx[j];
    if (in_range(k, u.ocols)) {
      let o = r * u.ocols + u32(k);
      out[o] = out[o] + x[r * u.cols + j];
    }
  }
}

@compute @workgroup_size(WG)
fn take_along(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = flat_id(wid, nwg, lid);
  if (r >= u.rows) { return; }
  let k = idx[r];
  var v = 0.0;
  if (in_range(k, u.cols)) { v = x[r * u.cols + u32(k)]; }
  out[r] = v;
}

@compute @workgroup_size(WG)
fn take_along_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_id(wid, nwg, lid);
  if (i >= u.rows * u.cols) { return; }
  let r = i / u.cols;
  let c = i % u.cols;
  out[i] = select(0.0, x[r], idx[r] == i32(c));
}

@compute @workgroup_size(WG)
fn argmax_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = flat_id(wid, nwg, lid);
  if (r >= u.rows) { return; }
  let base = r * u.cols;
  var best = x[base];
  var bi = 0u;
  for (var c = 1u; c < u.cols; c++) {
    let v = x[base + c];
    if (v > best) { best = v; bi = c; }
  }
  iout[r] = i32(bi);
}

@compute @workgroup_size(WG)
fn one_hot(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_id(wid, nwg, lid);
  if (i >= u.rows * u.cols) { return; }
  out[i] = select(0.0, 1.0, idx[i / u.cols] == i32(i % u.cols));
}
