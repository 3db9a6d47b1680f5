/** float64 CPU reference of conv2d: x NHWC [N, H, W, C], w HWIO [KH, KW, C, CO], bias [CO]. */
export interface ConvShape {
  N: number; H: number; W: number; C: number; KH: number; KW: number; CO: number; stride: number; padding: number;
}

export function convOut(s: ConvShape): [number, number] {
  return [Math.floor((s.H + 2 * s.padding - s.KH) / s.stride) + 1, Math.floor((s.W + 2 * s.padding - s.KW) / s.stride) + 1];
}

/**
 * Calls `fn` for every output pixel and every kernel tap that lands inside the input, with the
 * offsets of the output pixel's channels (`ob`), the input pixel's (`xb`) and the tap's weights (`tap`,
 * in units of C·CO).
 */
function eachTap(s: ConvShape, fn: (ob: number, xb: number, tap: number) => void): void {
  const [OH, OW] = convOut(s);
  for (let n = 0; n < s.N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let kh = 0; kh < s.KH; kh++) {
          const ih = oh * s.stride - s.padding + kh;
          if (ih < 0 || ih >= s.H) continue;
          for (let kw = 0; kw < s.KW; kw++) {
            const iw = ow * s.stride - s.padding + kw;
            if (iw < 0 || iw >= s.W) continue;
            fn(((n * OH + oh) * OW + ow) * s.CO, ((n * s.H + ih) * s.W + iw) * s.C, kh * s.KW + kw);
          }
        }
}

export function conv2dRef(x: Float64Array, w: Float64Array, bias: Float64Array | null, s: ConvShape): Float64Array {
  const [OH, OW] = convOut(s);
  const out = new Float64Array(s.N * OH * OW * s.CO);
  if (bias) for (let i = 0; i < out.length; i++) out[i] = bias[i % s.CO]!;
  eachTap(s, (ob, xb, tap) => {
    for (let ci = 0; ci < s.C; ci++) {
      const xv = x[xb + ci]!;
      const wb = (tap * s.C + ci) * s.CO;
      for (let co = 0; co < s.CO; co++) out[ob + co] += xv * w[wb + co]!;
    }
  });
  return out;
}

/**
 * The gradients of L = sum(gy ⊙ conv2d(x, w, bias)) in float64: dx, dw and dbias, every element
 * (the transposed correlation, walked over the same output pixels and taps as the forward).
 */
export function conv2dGradRef(x: Float64Array, w: Float64Array, gy: Float64Array, s: ConvShape): { dx: Float64Array; dw: Float64Array; dbias: Float64Array } {
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const dbias = new Float64Array(s.CO);
  for (let i = 0; i < gy.length; i++) dbias[i % s.CO]! += gy[i]!;
  eachTap(s, (ob, xb, tap) => {
    for (let ci = 0; ci < s.C; ci++) {
      const wb = (tap * s.C + ci) * s.CO;
      let acc = 0;
      for (let co = 0; co < s.CO; co++) {
        acc += gy[ob + co]! * w[wb + co]!;
        dw[wb + co]! += gy[ob + co]! * x[xb + ci]!;
      }
      dx[xb + ci]! += acc;
    }
  });
  return { dx, dw, dbias };
}
