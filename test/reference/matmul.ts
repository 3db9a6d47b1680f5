/** float64 CPU references for matmul, linear and similarity. */

export interface MatSpec {
  shape: number[];
  trans?: boolean;
}

/** op(A)·op(B) with broadcast batch dims; returns the flat result and its shape. */
export function refMatmul(a: Float64Array, as: number[], b: Float64Array, bs: number[], transA = false, transB = false): { data: Float64Array; shape: number[] } {
  const ar = as.length;
  const br = bs.length;
  const M = transA ? as[ar - 1]! : as[ar - 2]!;
  const K = transA ? as[ar - 2]! : as[ar - 1]!;
  const N = transB ? bs[br - 2]! : bs[br - 1]!;
  const ab = as.slice(0, -2);
  const bb = bs.slice(0, -2);
  const r = Math.max(ab.length, bb.length);
  const A = [...Array(r - ab.length).fill(1), ...ab];
  const B = [...Array(r - bb.length).fill(1), ...bb];
  const O = A.map((d, i) => Math.max(d, B[i]!));
  const nb = O.reduce((p, d) => p * d, 1);
  const out = new Float64Array(nb * M * N);
  for (let z = 0; z < nb; z++) {
    let rem = z;
    let ia = 0, ib = 0, sa = 1, sb = 1;
    for (let d = r - 1; d >= 0; d--) {
      const c = rem % O[d]!;
      rem = Math.floor(rem / O[d]!);
      ia += (A[d] === 1 ? 0 : c) * sa;
      ib += (B[d] === 1 ? 0 : c) * sb;
      sa *= A[d]!;
      sb *= B[d]!;
    }
    const oa = ia * M * K;
    const ob = ib * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a[oa + (transA ? k * M + m : m * K + k)]!;
          const bv = b[ob + (transB ? n * K + k : k * N + n)]!;
          s += av * bv;
        }
        out[z * M * N + m * N + n] = s;
      }
    }
  }
  return { data: out, shape: [...O, M, N] };
}

/** x [B, in] · w [out, in]ᵀ + bias */
export function refLinear(x: Float64Array, w: Float64Array, bias: Float64Array | null, B: number, inF: number, outF: number): Float64Array {
  const y = new Float64Array(B * outF);
  for (let i = 0; i < B; i++) {
    for (let o = 0; o < outF; o++) {
      let s = bias ? bias[o]! : 0;
      for (let k = 0; k < inF; k++) s += x[i * inF + k]! * w[o * inF + k]!;
      y[i * outF + o] = s;
    }
  }
  return y;
}

/** scale · z zᵀ for z [N, D] */
export function refSimilarity(z: Float64Array, N: number, D: number, scale: number): Float64Array {
  const y = new Float64Array(N * N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < D; k++) s += z[i * D + k]! * z[j * D + k]!;
      y[i * N + j] = scale * s;
    }
  }
  return y;
}
