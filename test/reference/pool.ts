/** float64 references of pooling on NHWC data. */

export function maxPoolRef(x: Float64Array, [N, H, W, C]: number[], k: number, s: number, p: number): { y: Float64Array; shape: number[] } {
  const OH = Math.floor((H + 2 * p - k) / s) + 1;
  const OW = Math.floor((W + 2 * p - k) / s) + 1;
  const y = new Float64Array(N * OH * OW * C);
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let c = 0; c < C; c++) {
          let best = -Infinity;
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) {
              const iy = oy * s - p + ky;
              const ix = ox * s - p + kx;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              best = Math.max(best, x[((n * H + iy) * W + ix) * C + c]!);
            }
          y[((n * OH + oy) * OW + ox) * C + c] = best;
        }
  return { y, shape: [N, OH, OW, C] };
}

/** average pooling with stride = kernel (kh × kw), no padding, floor semantics */
export function avgPoolRef(x: Float64Array, [N, H, W, C]: number[], kh: number, kw: number): { y: Float64Array; shape: number[] } {
  const OH = Math.floor(H / kh);
  const OW = Math.floor(W / kw);
  const y = new Float64Array(N * OH * OW * C);
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) s += x[((n * H + oy * kh + ky) * W + ox * kw + kx) * C + c]!;
          y[((n * OH + oy) * OW + ox) * C + c] = s / (kh * kw);
        }
  return { y, shape: [N, OH, OW, C] };
}
