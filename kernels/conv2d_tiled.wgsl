// conv2d and its gradients, shared-memory tiled implicit GEMM: the variant for real GPUs
// (variant 'tiled'; lavapipe prefers the subgroup / register-tiled kernels, see src/ops/conv.ts).
// A workgroup of 16x16 invocations owns a 64x64 block of the GEMM's output; per step of 16 along
// the reduction it stages the 64x16 block of the gathered operand A and the 16x64 block of B in
// workgroup memory (each invocation loads 4 + 4 elements, consecutive invocations at consecutive
// addresses of the NHWC / HWIO buffers), then each invocation does 4x4 FMAs per k from workgroup
// memory. Scalar loads, no shape condition: any Cin, Cout, stride, padding.
// MODE (override) selects the GEMM:
//   0 forward:     rows = output pixels (n, oh, ow), cols = Cout, k = (kh, kw, ci);
//                  A = x gathered, B = w [KH*KW*Cin, Cout]; epilogue + bias, + residual, ReLU.
//   1 input grad:  rows = input pixels (n, ih, iw), cols = Cin, k = (fh, fw, co) over the flipped
//                  taps (kh = KH-1-fh); A = dy at oh = (ih + P - kh) / S where that divides
//                  exactly, B = w flipped/transposed [KH, KW, Cout, Cin] (flipConvWeights).
//   2 weight grad: rows = (kh, kw, ci), cols = Cout, k = the output pixels of split s
//                  ([s * chunk, (s+1) * chunk)); A = x gathered, B = dy [pixels, Cout]; writes the
//                  partial of split s (summed by the host's deterministic second pass).
// Workgroups: x + y * nwg.x = split * rtiles + row tile, z = column tile.
// bindings: 0 uniforms, 1 A source (x / dy / x), 2 B source (w / wflip / dy), 3 bias,
//           4 out (y / dx / partials), 5 residual
override MODE: u32 = 0u;
override HAS_BIAS: u32 = 0u;
override RES: u32 = 0u;
override RELU: u32 = 0u;

// @include lib/tile64.wgsl

struct U {
// @include lib/conv_geo.wgsl
  chunk: u32, rtiles: u32, splits: u32, pad0: u32,
};
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> asrc: array<f32>;
@group(0) @binding(2) var<storage, read> bsrc: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> res: array<f32>;

fn nrows() -> u32 {
  if (MODE == 0u) { return u.M; }
  if (MODE == 1u) { return u.N * u.H * u.W; }
  return u.KH * u.KW * u.C;
}

fn ncols() -> u32 {
  if (MODE == 1u) { return u.C; }
  return u.CO;
}

/** x at output pixel q = (n, oh, ow) shifted by tap (kh, kw), channel ci; 0 in the padding */
fn xAt(q: u32, kh: u32, kw: u32, ci: u32) -> f32 {
  let ow = q % u.OW;
  let t = q / u.OW;
  let oh = t % u.OH;
  let n = t / u.OH;
  let ih = i32(oh * u.S + kh) - i32(u.P);
  let iw = i32(ow * u.S + kw) - i32(u.P);
  if (ih < 0 || iw < 0 || ih >= i32(u.H) || iw >= i32(u.W)) { return 0.0; }
  return asrc[((n * u.H + u32(ih)) * u.W + u32(iw)) * u.C + ci];
}

/** A[r, k] for r < nrows() and k inside the reduction range */
fn loadA(r: u32, k: u32) -> f32 {
  if (MODE == 0u) {
    let tap = k / u.C;
    return xAt(r, tap / u.KW, tap % u.KW, k % u.C);
  }
  if (MODE == 1u) {
    let iw = r % u.W;
    let t = r / u.W;
    let ih = t % u.H;
    let n = t / u.H;
    let tap = k / u.CO;
    let kh = u.KH - 1u - tap / u.KW;
    let kw = u.KW - 1u - tap % u.KW;
    let th = i32(ih + u.P) - i32(kh);
    let tw = i32(iw + u.P) - i32(kw);
    if (th < 0 || tw < 0) { return 0.0; }
    let oh = u32(th) / u.S;
    let ow = u32(tw) / u.S;
    if (oh * u.S != u32(th) || ow * u.S != u32(tw) || oh >= u.OH || ow >= u.OW) { return 0.0; }
    return asrc[((n * u.OH + oh) * u.OW + ow) * u.CO + k % u.CO];
  }
  let tap = r / u.C;
  return xAt(k, tap / u.KW, tap % u.KW, r % u.C);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let flat = wid.x + wid.y * nwg.x;
  if (flat >= u.rtiles * u.splits) { return; }
  let s = flat / u.rtiles;
  let r0 = (flat % u.rtiles) * BM;
  let c0 = wid.z * BN;
  let R = nrows();
  let NC = ncols();
  var kBeg = 0u;
  var kEnd = u.KH * u.KW * select(u.C, u.CO, MODE == 1u);
  if (MODE == 2u) {
    kBeg = s * u.chunk;
    kEnd = min(u.M, kBeg + u.chunk);
  }
  let tx = lid.x;
  let ty = lid.y;
  var acc: array<vec4f, 4>;
  for (var k0 = kBeg; k0 < kEnd; k0 += BK) {
    for (var i = 0u; i < 4u; i++) {
      let e = li + 256u * i;
      // consecutive invocations along the operand's contiguous axis: k (= ci / co) for the pixel
      // rows of modes 0 and 1, the row (= ci) for mode 2
      var rr: u32;
      var kk: u32;
      if (MODE == 2u) { rr = e % BM; kk = e / BM; } else { kk = e % BK; rr = e / BK; }
      let r = r0 + rr;
      let k = k0 + kk;
      var v = 0.0;
      if (r < R && k < kEnd) { v = loadA(r, k); }
      As[kk * BM + rr] = v;
      let cc = e % BN;
      let kb = e / BN;
      let c = c0 + cc;
      let kg = k0 + kb;
      var bv = 0.0;
      if (c < NC && kg < kEnd) { bv = bsrc[kg * NC + c]; }
      Bs[kb * BN + cc] = bv;
    }
    workgroupBarrier();
    tile_fma(&acc, tx, ty);
    workgroupBarrier();
  }
  let obase = select(0u, s * R * NC, MODE == 2u);
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + ty + 16u * i;
    if (r >= R) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let c = c0 + tx + 16u * j;
      if (c >= NC) { continue; }
      let o = r * NC + c;
      var v = acc[i][j];
      if (MODE == 0u) {
        if (HAS_BIAS == 1u) { v += bias[c]; }
        if (RES == 1u) { v += res[o]; }
        if (RELU == 1u) { v = max(v, 0.0); }
      }
      out[obase + o] = v;
    }
  }
}
