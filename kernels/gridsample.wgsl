// Bilinear grid sampling with PyTorch F.grid_sample semantics on NHWC images.
// x [N, H, W, C], grid [N, OH, OW, 2] with (gx, gy) in [-1, 1] (gx indexes width), out [N, OH, OW, C].
// Unnormalise: ALIGN = 1: (g + 1)/2·(size − 1); ALIGN = 0: ((g + 1)·size − 1)/2.
// PAD = 0 'zeros' (out-of-range taps read 0), PAD = 1 'border' (the coordinate is clamped to
// [0, size − 1]; its gradient is zero where clamped, as in PyTorch's clip_coordinates_set_grad).
//
// bwd_x is a scatter (one grid point feeds four pixels, and an arbitrary grid gives no bounded
// inverse window to gather from). It uses an f32 atomic add built from a compare-exchange loop on
// the u32 bit pattern. Why not a deterministic formulation: a gather would need the grid points
// bucketed by pixel (count, prefix scan, fill, sort within buckets: four or more passes, and a
// quadratic worst case when many points fall into one cell), and integer fixed-point atomics
// (deterministic) lose relative precision on small gradients. The price of the CAS loop is that the
// summation order, hence the last bits of dx, may vary between runs; the only use in the REFINE
// experiments (WaNet's warp of poisoned images) needs no gradient at all. dx must be zero-filled
// before bwd_x.
// bwd_grid is a gather per grid point (loops over the channels): deterministic.
// bindings: 0 uniforms, 1 x, 2 grid, 3 out, 4 dy, 5 dx (atomic u32 bits), 6 dgrid
override WG: u32 = 64u;
override ALIGN: u32 = 0u;
override PAD: u32 = 0u;

struct U {
  N: u32, H: u32, W: u32, C: u32,
  OH: u32, OW: u32, total: u32, pad0: u32,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> grid: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> dgrid: array<f32>;

fn flat(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

// Source coordinate along an axis of `size` pixels, and d(coordinate)/d(g).
fn source(g: f32, size: u32) -> vec2f {
  let fs = f32(size);
  var s: f32;
  var d: f32;
  if (ALIGN == 1u) {
    s = (g + 1.0) * 0.5 * (fs - 1.0);
    d = 0.5 * (fs - 1.0);
  } else {
    s = ((g + 1.0) * fs - 1.0) * 0.5;
    d = 0.5 * fs;
  }
  if (PAD == 1u) {
    if (s <= 0.0) { s = 0.0; d = 0.0; }
    else if (s >= fs - 1.0) { s = fs - 1.0; d = 0.0; }
  }
  return vec2f(s, d);
}

// One grid point: the four taps' pixel indices (-1 when out of range) and weights.
struct Pt {
  idx: vec4i,   // nw, ne, sw, se flat pixel indices (n·H·W + y·W + x), -1 if outside
  w: vec4f,     // nw, ne, sw, se bilinear weights
  fx: f32,      // ix − x0
  fy: f32,      // iy − y0
  dsx: f32,     // d ix / d gx
  dsy: f32,     // d iy / d gy
};

fn point(n: u32, p: u32) -> Pt {
  let gi = (n * u.OH * u.OW + p) * 2u;
  let sx = source(grid[gi], u.W);
  let sy = source(grid[gi + 1u], u.H);
  let fx0 = floor(sx.x);
  let fy0 = floor(sy.x);
  let fx = sx.x - fx0;
  let fy = sy.x - fy0;
  let x0 = i32(fx0);
  let y0 = i32(fy0);
  let base = i32(n * u.H * u.W);
  let W = i32(u.W);
  let H = i32(u.H);
  let vx0 = x0 >= 0 && x0 < W;
  let vx1 = x0 + 1 >= 0 && x0 + 1 < W;
  let vy0 = y0 >= 0 && y0 < H;
  let vy1 = y0 + 1 >= 0 && y0 + 1 < H;
  var r: Pt;
  r.idx = vec4i(
    select(-1, base + y0 * W + x0, vx0 && vy0),
    select(-1, base + y0 * W + x0 + 1, vx1 && vy0),
    select(-1, base + (y0 + 1) * W + x0, vx0 && vy1),
    select(-1, base + (y0 + 1) * W + x0 + 1, vx1 && vy1),
  );
  r.w = vec4f((1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy);
  r.fx = fx;
  r.fy = fy;
  r.dsx = sx.y;
  r.dsy = sy.y;
  return r;
}

fn tap(idx: i32, c: u32) -> f32 {
  if (idx < 0) { return 0.0; }
  return x[u32(idx) * u.C + c];
}

@compute @workgroup_size(WG)
fn fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= u.total) { return; }
  let c = i % u.C;
  let q = i / u.C;
  let n = q / (u.OH * u.OW);
  let pt = point(n, q % (u.OH * u.OW));
  out[i] = pt.w.x * tap(pt.idx.x, c) + pt.w.y * tap(pt.idx.y, c) + pt.w.z * tap(pt.idx.z, c) + pt.w.w * tap(pt.idx.w, c);
}

fn atomic_add_f32(i: u32, v: f32) {
  var old = atomicLoad(&dx[i]);
  loop {
    let r = atomicCompareExchangeWeak(&dx[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}

fn scatter(idx: i32, c: u32, v: f32) {
  if (idx >= 0 && v != 0.0) { atomic_add_f32(u32(idx) * u.C + c, v); }
}

@compute @workgroup_size(WG)
fn bwd_x(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= u.total) { return; }
  let c = i % u.C;
  let q = i / u.C;
  let n = q / (u.OH * u.OW);
  let pt = point(n, q % (u.OH * u.OW));
  let g = dy[i];
  scatter(pt.idx.x, c, pt.w.x * g);
  scatter(pt.idx.y, c, pt.w.y * g);
  scatter(pt.idx.z, c, pt.w.z * g);
  scatter(pt.idx.w, c, pt.w.w * g);
}

// One invocation per grid point (total = N·OH·OW), looping over the channels.
@compute @workgroup_size(WG)
fn bwd_grid(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q = flat(wid, nwg, lid);
  if (q >= u.total) { return; }
  let n = q / (u.OH * u.OW);
  let pt = point(n, q % (u.OH * u.OW));
  var gx = 0.0;
  var gy = 0.0;
  for (var c = 0u; c < u.C; c++) {
    let g = dy[q * u.C + c];
    let nw = tap(pt.idx.x, c);
    let ne = tap(pt.idx.y, c);
    let sw = tap(pt.idx.z, c);
    let se = tap(pt.idx.w, c);
    gx += g * ((ne - nw) * (1.0 - pt.fy) + (se - sw) * pt.fy);
    gy += g * ((sw - nw) * (1.0 - pt.fx) + (se - ne) * pt.fx);
  }
  dgrid[q * 2u] = gx * pt.dsx;
  dgrid[q * 2u + 1u] = gy * pt.dsy;
}
