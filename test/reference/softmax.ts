/** float64 references of the row-wise ops over the last axis (x seen as [rows, cols]). */

export function softmaxRef(x: Float64Array, cols: number, log = false): Float64Array {
  const y = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += cols) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[base + c]!);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[base + c]! - m);
    const ls = Math.log(s);
    for (let c = 0; c < cols; c++) {
      const v = x[base + c]! - m;
      y[base + c] = log ? v - ls : Math.exp(v) / s;
    }
  }
  return y;
}

export function logSoftmaxRef(x: Float64Array, cols: number): Float64Array {
  return softmaxRef(x, cols, true);
}

/** z = x / max(||x||, eps) per row */
export function l2NormalizeRef(x: Float64Array, cols: number, eps = 1e-12): Float64Array {
  const y = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += cols) {
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += x[base + c]! ** 2;
    const d = Math.max(Math.sqrt(ss), eps);
    for (let c = 0; c < cols; c++) y[base + c] = x[base + c]! / d;
  }
  return y;
}
