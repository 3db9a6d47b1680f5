/** float64 reference of F.grid_sample (bilinear, zeros/border padding) on NHWC data. */

function source(g: number, size: number, align: boolean, border: boolean): number {
  let s = align ? ((g + 1) / 2) * (size - 1) : ((g + 1) * size - 1) / 2;
  if (border) s = Math.min(Math.max(s, 0), size - 1);
  return s;
}

export function gridSampleRef(
  x: Float64Array, [N, H, W, C]: number[], grid: Float64Array, OH: number, OW: number,
  align = false, padding: 'zeros' | 'border' = 'zeros',
): Float64Array {
  const y = new Float64Array(N * OH * OW * C);
  const border = padding === 'border';
  for (let n = 0; n < N; n++)
    for (let p = 0; p < OH * OW; p++) {
      const gi = (n * OH * OW + p) * 2;
      const sx = source(grid[gi]!, W, align, border);
      const sy = source(grid[gi + 1]!, H, align, border);
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const taps: [number, number, number][] = [
        [y0, x0, (1 - fx) * (1 - fy)],
        [y0, x0 + 1, fx * (1 - fy)],
        [y0 + 1, x0, (1 - fx) * fy],
        [y0 + 1, x0 + 1, fx * fy],
      ];
      for (let c = 0; c < C; c++) {
        let v = 0;
        for (const [ty, tx, w] of taps) {
          if (ty < 0 || ty >= H || tx < 0 || tx >= W) continue;
          v += w * x[((n * H + ty) * W + tx) * C + c]!;
        }
        y[(n * OH * OW + p) * C + c] = v;
      }
    }
  return y;
}
