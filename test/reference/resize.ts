/** float64 reference of F.interpolate (bilinear / legacy nearest) on NHWC data. */

function axisTaps(osz: number, isz: number, mode: 'bilinear' | 'nearest', align: boolean): { i0: number; i1: number; l: number }[] {
  const taps: { i0: number; i1: number; l: number }[] = [];
  for (let o = 0; o < osz; o++) {
    if (mode === 'nearest') {
      const i = Math.min(Math.floor((o * isz) / osz), isz - 1);
      taps.push({ i0: i, i1: i, l: 0 });
      continue;
    }
    const src = align ? (osz > 1 ? (o * (isz - 1)) / (osz - 1) : 0) : Math.max(((o + 0.5) * isz) / osz - 0.5, 0);
    const i0 = Math.min(Math.floor(src), isz - 1);
    taps.push({ i0, i1: Math.min(i0 + 1, isz - 1), l: src - i0 });
  }
  return taps;
}

export function resizeRef(x: Float64Array, [N, H, W, C]: number[], OH: number, OW: number, mode: 'bilinear' | 'nearest', align = false): Float64Array {
  const ty = axisTaps(OH, H, mode, align);
  const tx = axisTaps(OW, W, mode, align);
  const y = new Float64Array(N * OH * OW * C);
  const at = (n: number, iy: number, ix: number, c: number) => x[((n * H + iy) * W + ix) * C + c]!;
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let c = 0; c < C; c++) {
          const a = ty[oy]!;
          const b = tx[ox]!;
          const top = (1 - b.l) * at(n, a.i0, b.i0, c) + b.l * at(n, a.i0, b.i1, c);
          const bot = (1 - b.l) * at(n, a.i1, b.i0, c) + b.l * at(n, a.i1, b.i1, c);
          y[((n * OH + oy) * OW + ox) * C + c] = (1 - a.l) * top + a.l * bot;
        }
  return y;
}
