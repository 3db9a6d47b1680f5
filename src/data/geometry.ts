/**
 * Nearest-neighbour geometric transforms of uint8 HWC images on the host (BATT's rotation,
 * PhysicalBA's and BATT's RandomAffine, the rotation of REFINE's augmentation under the guard), plus
 * the torchvision-style colour jitter PhysicalBA uses.
 *
 * Conventions (PIL `Image.rotate` / torchvision `affine`): rotation about the image centre
 * ((W−1)/2, (H−1)/2) in pixel-index coordinates; a positive angle turns the content
 * counter-clockwise as displayed (y axis pointing down); same output size; pixels whose source
 * falls outside the image get `fill`. Inverse mapping (PIL's `rotate` matrix): for an output
 * pixel at offset (u, v) from the centre, with (u', v') = ((u − tx)/s, (v − ty)/s),
 *   source = centre + (cosθ·u' − sinθ·v',  sinθ·u' + cosθ·v'),
 * and the source pixel is the round-half-up of that point (PIL's NEAREST: floor of the
 * pixel-centre coordinate). cos/sin are rounded to 15 decimals as PIL does, so 90° is exact.
 * torchvision's tensor path rounds half to even instead (differences only on exact ties).
 */
import type { Image } from './augment.js';
import type { Rng } from '../util/random.js';

export interface AffineParams {
  /** degrees, counter-clockwise */
  angle: number;
  /** pixels (x right, y down) */
  translate?: [number, number];
  scale?: number;
}

/** cos/sin rounded to 15 decimals like PIL, so that multiples of 90° are exact. */
function cosSin(deg: number): [number, number] {
  const r = (deg * Math.PI) / 180;
  return [Math.round(Math.cos(r) * 1e15) / 1e15, Math.round(Math.sin(r) * 1e15) / 1e15];
}

/** Source coordinates (continuous, pixel-index units) of output pixel (x, y). */
export function affineSource(x: number, y: number, h: number, w: number, p: AffineParams): [number, number] {
  const [co, si] = cosSin(p.angle);
  const s = p.scale ?? 1;
  const [tx, ty] = p.translate ?? [0, 0];
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const u = (x - cx - tx) / s;
  const v = (y - cy - ty) / s;
  return [cx + co * u - si * v, cy + si * u + co * v];
}

/** `fill`: one value for every channel or one per channel. */
export function affineNearest(img: Image, p: AffineParams, fill: number | ArrayLike<number> = 0): Image {
  const { h, w, c } = img;
  const out = new Uint8Array(img.data.length);
  const fillOf = (k: number) => (typeof fill === 'number' ? fill : fill[k]!);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [fx, fy] = affineSource(x, y, h, w, p);
      // round half up, robust to 1e-12 noise (PIL: floor(centre coordinate))
      const sx = Math.floor(fx + 0.5 + 1e-9);
      const sy = Math.floor(fy + 0.5 + 1e-9);
      const o = (y * w + x) * c;
      if (sx < 0 || sx >= w || sy < 0 || sy >= h) {
        for (let k = 0; k < c; k++) out[o + k] = fillOf(k);
      } else {
        const i = (sy * w + sx) * c;
        for (let k = 0; k < c; k++) out[o + k] = img.data[i + k]!;
      }
    }
  }
  return { data: out, h, w, c };
}

/** PIL `img.rotate(angle)` (counter-clockwise, nearest, same size, `fill` outside). */
export function rotateNearest(img: Image, angle: number, fill: number | ArrayLike<number> = 0): Image {
  return affineNearest(img, { angle }, fill);
}

export interface RandomAffineSpec {
  /** rotation uniform in [−degrees, degrees] */
  degrees: number;
  /** max translation as a fraction of width/height (torchvision `translate`) */
  translate?: [number, number];
  /** scale uniform in [lo, hi] */
  scale?: [number, number];
}

/** torchvision RandomAffine.get_params (no shear): angle, integer-rounded translation, scale. */
export function randomAffineParams(h: number, w: number, spec: RandomAffineSpec, rng: Rng): AffineParams {
  const angle = rng.uniform(-spec.degrees, spec.degrees);
  let translate: [number, number] = [0, 0];
  if (spec.translate) {
    const mx = spec.translate[0] * w;
    const my = spec.translate[1] * h;
    translate = [Math.round(rng.uniform(-mx, mx)), Math.round(rng.uniform(-my, my))];
  }
  const scale = spec.scale ? rng.uniform(spec.scale[0], spec.scale[1]) : 1;
  return { angle, translate, scale };
}

export function randomAffine(img: Image, spec: RandomAffineSpec, rng: Rng, fill: number | ArrayLike<number> = 0): Image {
  return affineNearest(img, randomAffineParams(img.h, img.w, spec, rng), fill);
}

/** ColorJitter(brightness = b): multiply by a factor uniform in [1−b, 1+b], clamp, round to uint8. */
export function brightness(img: Image, factor: number): Image {
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(255, Math.round(img.data[i]! * factor));
  return { ...img, data: out };
}
