/** float64 reference of BatchNorm2d on NHWC data (PyTorch semantics). */

export interface BNRef {
  y: Float64Array;
  /** updated running stats (training) or the inputs (eval) */
  runningMean: Float64Array;
  runningVar: Float64Array;
}

/** x [rows·C] viewed as [rows, C] (rows = N·H·W). */
export function batchNormRef(
  x: Float64Array, C: number, gamma: Float64Array, beta: Float64Array, rm: Float64Array, rv: Float64Array,
  training: boolean, momentum = 0.1, eps = 1e-5,
): BNRef {
  const rows = x.length / C;
  const y = new Float64Array(x.length);
  const nrm = Float64Array.from(rm);
  const nrv = Float64Array.from(rv);
  for (let c = 0; c < C; c++) {
    let mean: number, variance: number;
    if (training) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += x[r * C + c]!;
      mean = s / rows;
      let ss = 0;
      for (let r = 0; r < rows; r++) ss += (x[r * C + c]! - mean) ** 2;
      variance = ss / rows;
      nrm[c] = (1 - momentum) * rm[c]! + momentum * mean;
      nrv[c] = (1 - momentum) * rv[c]! + momentum * (ss / (rows - 1));
    } else {
      mean = rm[c]!;
      variance = rv[c]!;
    }
    const inv = 1 / Math.sqrt(variance + eps);
    for (let r = 0; r < rows; r++) y[r * C + c] = (x[r * C + c]! - mean) * inv * gamma[c]! + beta[c]!;
  }
  return { y, runningMean: nrm, runningVar: nrv };
}
