/** float64 references of the class-axis index ops (x seen as [rows, cols]). */

/** y[r, j] = x[r, idx[j]] */
export function gatherColsRef(x: Float64Array, cols: number, idx: ArrayLike<number>): Float64Array {
  const rows = x.length / cols;
  const J = idx.length;
  const y = new Float64Array(rows * J);
  for (let r = 0; r < rows; r++) for (let j = 0; j < J; j++) y[r * J + j] = x[r * cols + idx[j]!]!;
  return y;
}

/** y = 0; y[r, idx[j]] += x[r, j] */
export function scatterColsRef(x: Float64Array, cols: number, idx: ArrayLike<number>, outCols: number): Float64Array {
  const rows = x.length / cols;
  const y = new Float64Array(rows * outCols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) y[r * outCols + idx[j]!]! += x[r * cols + j]!;
  return y;
}

/** y[r] = x[r, idx[r]] */
export function takeAlongRef(x: Float64Array, cols: number, idx: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: idx.length }, (_, r) => x[r * cols + idx[r]!]!);
}

/** first index of the row maximum */
export function argmaxRef(x: Float64Array, cols: number): Float64Array {
  const rows = x.length / cols;
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let bi = 0;
    for (let c = 1; c < cols; c++) if (x[r * cols + c]! > x[r * cols + bi]!) bi = c;
    y[r] = bi;
  }
  return y;
}

export function oneHotRef(idx: ArrayLike<number>, K: number): Float64Array {
  const y = new Float64Array(idx.length * K);
  for (let r = 0; r < idx.length; r++) y[r * K + idx[r]!] = 1;
  return y;
}

/** inverse of a permutation */
export function invertPerm(perm: ArrayLike<number>): Int32Array {
  const inv = new Int32Array(perm.length);
  for (let j = 0; j < perm.length; j++) inv[perm[j]!] = j;
  return inv;
}
