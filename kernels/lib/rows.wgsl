// Rows of a [rows, cols] matrix for row-wise kernels (softmax.wgsl, loss_ce.wgsl), included by
// scripts/bundle-kernels.mjs where a kernel has the line `// @include lib/rows.wgsl`. The including
// kernel declares `const WG: u32`, `override ROWWG: u32` and a uniform `u` whose first fields are
// `rows: u32, cols: u32`. Layouts: ROWWG 0: one invocation per row, WG rows per workgroup;
// ROWWG 1: one workgroup per row, the lanes striding over it and combining through `red`.

var<workgroup> red: array<f32, WG>;

struct Row {
  live: bool,
  row: u32,
  base: u32,
  lane: u32,
  step: u32,
};

fn row_of(wid: vec3u, nwg: vec3u, lid: u32) -> Row {
  let flat = wid.x + wid.y * nwg.x;
  if (ROWWG == 1u) {
    return Row(flat < u.rows, flat, flat * u.cols, lid, WG);
  }
  let r = flat * WG + lid;
  return Row(r < u.rows, r, r * u.cols, 0u, 1u);
}

// Combines one partial value per lane into the row's total (identity in layout 0).
fn row_sum(v: f32, lid: u32) -> f32 {
  if (ROWWG == 0u) { return v; }
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn row_max(v: f32, lid: u32) -> f32 {
  if (ROWWG == 0u) { return v; }
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
