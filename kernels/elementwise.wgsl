// Elementwise unary and binary ops, one invocation per output element.
// OP selects the function (constant-folded per pipeline). Binary ops broadcast: BCAST = 0 means
// a, b and out have the same shape (flat indexing); BCAST = 1 maps each output index to a and b
// through per-dimension strides (0 on broadcast dimensions), rank <= 8.
// bindings: 0 uniforms, 1 a, 2 b (binary only), 3 out
override OP: u32 = 0u;
override BCAST: u32 = 0u;
override WG: u32 = 64u;

struct U {
  n: u32,
  rank: u32,
  alpha: f32,
  beta: f32,
  shape: array<vec4u, 2>,
  sa: array<vec4u, 2>,
  sb: array<vec4u, 2>,
};

@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// vec4 views of the same bindings for the flat paths (used when n % 4 == 0): a per-invocation
// vec4 load is ~4x cheaper than four scalar ones on lavapipe, and no worse on GPUs.
@group(0) @binding(1) var<storage, read> a4: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> out4: array<vec4f>;

fn unary_op4(x: vec4f) -> vec4f {
  return vec4f(unary_op(x.x), unary_op(x.y), unary_op(x.z), unary_op(x.w));
}

fn binary_op4(x: vec4f, y: vec4f) -> vec4f {
  return vec4f(binary_op(x.x, y.x), binary_op(x.y, y.y), binary_op(x.z, y.z), binary_op(x.w, y.w));
}

fn unary_op(x: f32) -> f32 {
  switch OP {
    case 0u: { return x; }                              // copy
    case 1u: { return -x; }                             // neg
    case 2u: { return max(x, 0.0); }                    // relu
    case 3u: { return 1.0 / (1.0 + exp(-x)); }          // sigmoid
    case 4u: { return tanh(x); }                        // tanh
    case 5u: { return exp(x); }                         // exp
    case 6u: { return log(x); }                         // log
    case 7u: { return sqrt(x); }                        // sqrt
    case 8u: { return abs(x); }                         // abs
    case 9u: { return x * x; }                          // square
    case 10u: { return clamp(x, u.alpha, u.beta); }     // clamp(lo, hi)
    case 11u: { return x * u.alpha + u.beta; }          // affine
    case 12u: { return 1.0 / x; }                       // reciprocal
    case 13u: { return u.alpha; }                       // fill
    case 14u: { return select(0.0, 1.0, x > 0.0); }     // step
    default: { return x; }
  }
}

fn binary_op(x: f32, y: f32) -> f32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    case 4u: { return max(x, y); }
    case 5u: { return min(x, y); }
    case 6u: { return select(0.0, x, y > 0.0); }                          // relu backward: gy, x
    case 7u: { return x * y * (1.0 - y); }                                // sigmoid backward: gy, y
    case 8u: { return x * (1.0 - y * y); }                                // tanh backward: gy, y
    case 9u: { return select(0.0, x, y >= u.alpha && y <= u.beta); }     // clamp backward: gy, x
    case 10u: { return select(0.0, 1.0, x == y); }                        // equal mask
    case 11u: { return x * u.alpha + y * u.beta; }                        // axpby
    default: { return x; }
  }
}

fn flat_id(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn unary(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_id(wid, nwg, lid);
  if (i >= u.n) { return; }
  out[i] = unary_op(a[i]);
}

@compute @workgroup_size(WG)
fn binary(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_id(wid, nwg, lid);
  if (i >= u.n) { return; }
  if (BCAST == 0u) {
    out[i] = binary_op(a[i], b[i]);
    return;
  }
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = i32(u.rank) - 1; d >= 0; d--) {
    let dim = u.shape[d / 4][d % 4];
    let c = rem % dim;
    rem = rem / dim;
    ia += c * u.sa[d / 4][d % 4];
    ib += c * u.sb[d / 4][d % 4];
  }
  out[i] = binary_op(a[ia], b[ib]);
}

// out = op(out, b), same shapes: in-place accumulation (gradients, optimizers).
@compute @workgroup_size(WG)
fn inplace(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_id(wid, nwg, lid);
  if (i >= u.n) { return; }
  out[i] = binary_op(out[i], b[i]);
}

// vec4 variants: u.n counts vec4s.
@compute @workgroup_size(WG)
fn unary4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_id(wid, nwg, lid);
  if (i >= u.n) { return; }
  out4[i] = unary_op4(a4[i]);
}

@compute @workgroup_size(WG)
fn binary4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_id(wid, nwg, lid);
  if (i >= u.n) { return; }
  out4[i] = binary_op4(a4[i], b4[i]);
}

@compute @workgroup_size(WG)
fn inplace4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_id(wid, nwg, lid);
  if (i >= u.n) { return; }
  out4[i] = binary_op4(out4[i], b4[i]);
}
