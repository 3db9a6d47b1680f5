/**
 * Seeded train-time augmentation on uint8 HWC images (host side, per batch), following the
 * torchvision transforms: RandomCrop(padding), RandomHorizontalFlip,
 * RandomResizedCrop(scale, ratio, bilinear), RandomRotation (nearest, black fill: torchvision's
 * defaults), RandomGrayscale (ITU-R 601 luma, as torchvision) and ColorJitter's brightness and
 * contrast.
 */
import type { Rng } from '../util/random.js';
import { rotateNearest } from './geometry.js';

export interface Image {
  data: Uint8Array;
  h: number;
  w: number;
  c: number;
}

export function flipH(img: Image): Image {
  const { h, w, c } = img;
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = img.data[(y * w + (w - 1 - x)) * c + k]!;
  return { data: out, h, w, c };
}

/** RandomCrop(size = image size, padding = pad, fill 0). */
export function randomCrop(img: Image, pad: number, rng: Rng): Image {
  const { h, w, c } = img;
  const dy = rng.int(2 * pad + 1) - pad;
  const dx = rng.int(2 * pad + 1) - pad;
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < h; y++) {
    const sy = y + dy;
    if (sy < 0 || sy >= h) continue;
    for (let x = 0; x < w; x++) {
      const sx = x + dx;
      if (sx < 0 || sx >= w) continue;
      for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = img.data[(sy * w + sx) * c + k]!;
    }
  }
  return { data: out, h, w, c };
}

/** Bilinear sample of the crop [top, left, ch, cw] into oh×ow (half-pixel centres). */
export function cropResize(img: Image, top: number, left: number, ch: number, cw: number, oh: number, ow: number): Image {
  const { w, c } = img;
  const out = new Uint8Array(oh * ow * c);
  const sy = ch / oh;
  const sx = cw / ow;
  for (let y = 0; y < oh; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), ch - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, ch - 1);
    const wy = fy - y0;
    for (let x = 0; x < ow; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), cw - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, cw - 1);
      const wx = fx - x0;
      for (let k = 0; k < c; k++) {
        const at = (yy: number, xx: number) => img.data[((top + yy) * w + left + xx) * c + k]!;
        const v = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
        out[(y * ow + x) * c + k] = Math.round(v);
      }
    }
  }
  return { data: out, h: oh, w: ow, c };
}

/** torchvision RandomResizedCrop.get_params: 10 tries, then a centre crop with clamped ratio. */
export function resizedCropParams(h: number, w: number, scale: [number, number], ratio: [number, number], rng: Rng): [number, number, number, number] {
  const area = h * w;
  const logR = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let t = 0; t < 10; t++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const ar = Math.exp(rng.uniform(logR[0]!, logR[1]!));
    const cw = Math.round(Math.sqrt(target * ar));
    const ch = Math.round(Math.sqrt(target / ar));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) return [rng.int(h - ch + 1), rng.int(w - cw + 1), ch, cw];
  }
  const inR = w / h;
  let cw: number;
  let ch: number;
  if (inR < ratio[0]) {
    cw = w;
    ch = Math.round(w / ratio[0]);
  } else if (inR > ratio[1]) {
    ch = h;
    cw = Math.round(h * ratio[1]);
  } else {
    cw = w;
    ch = h;
  }
  return [Math.floor((h - ch) / 2), Math.floor((w - cw) / 2), ch, cw];
}

export function randomResizedCrop(img: Image, rng: Rng, scale: [number, number] = [0.8, 1], ratio: [number, number] = [3 / 4, 4 / 3]): Image {
  const [top, left, ch, cw] = resizedCropParams(img.h, img.w, scale, ratio, rng);
  return cropResize(img, top, left, ch, cw, img.h, img.w);
}

/** Luma 0.2989 R + 0.587 G + 0.114 B copied to every channel (no-op for 1 channel). */
export function grayscale(img: Image): Image {
  if (img.c === 1) return img;
  const out = new Uint8Array(img.data.length);
  for (let p = 0; p < img.h * img.w; p++) {
    const d = img.data;
    const l = Math.round(0.2989 * d[3 * p]! + 0.587 * d[3 * p + 1]! + 0.114 * d[3 * p + 2]!);
    out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = Math.min(255, l);
  }
  return { ...img, data: out };
}

/**
 * ColorJitter(brightness = b, contrast = k) as torchvision defines the two: x·β with β ~ U(1 − b,
 * 1 + b), then a blend with the image's mean luma m, (x − m)·κ + m with κ ~ U(1 − k, 1 + k), each
 * clamped to [0, 255] and rounded. Two deviations, both below one grey level of the result's
 * distribution: the order is fixed (brightness, then contrast; torchvision draws a random order)
 * and m is the float luma mean (torchvision truncates the luma image to uint8 first).
 */
export function colorJitter(img: Image, brightness: number, contrast: number, rng: Rng): Image {
  const out = new Float64Array(img.data.length);
  const beta = brightness > 0 ? 1 - brightness + 2 * brightness * rng.next() : 1;
  const kappa = contrast > 0 ? 1 - contrast + 2 * contrast * rng.next() : 1;
  for (let i = 0; i < out.length; i++) out[i] = Math.min(255, img.data[i]! * beta);
  if (contrast > 0) {
    const { c } = img;
    const px = img.h * img.w;
    let sum = 0;
    for (let p = 0; p < px; p++) sum += c === 3 ? 0.2989 * out[3 * p]! + 0.587 * out[3 * p + 1]! + 0.114 * out[3 * p + 2]! : out[p * c]!;
    const m = sum / px;
    for (let i = 0; i < out.length; i++) out[i] = Math.min(255, Math.max(0, (out[i]! - m) * kappa + m));
  }
  const data = new Uint8Array(out.length);
  for (let i = 0; i < out.length; i++) data[i] = Math.round(out[i]!);
  return { ...img, data };
}

export interface AugmentSpec {
  /** RandomCrop padding (classifier training on some presets) */
  cropPadding?: number;
  /** RandomResizedCrop(scale, ratio) (REFINE training) */
  resizedCrop?: { scale: [number, number]; ratio?: [number, number] };
  /** RandomHorizontalFlip(p) */
  flip?: number;
  /**
   * RandomRotation(degrees): an angle uniform in [−degrees, degrees], applied to a share p of the
   * images (RandomApply; all when p is unset). The augmentation guard's rotation probe and remedy.
   */
  rotation?: { degrees: number; p?: number };
  /** RandomGrayscale(p) */
  grayscale?: number;
  /** ColorJitter(brightness, contrast) (the augmentation guard's photometric remedy, see colorJitter) */
  colorJitter?: { brightness: number; contrast: number };
}

/** Applies the transforms `spec` enables, in this order: crop, flip, rotation, grayscale, colour jitter. */
export function augment(img: Image, spec: AugmentSpec, rng: Rng): Image {
  let out = img;
  if (spec.resizedCrop) out = randomResizedCrop(out, rng, spec.resizedCrop.scale, spec.resizedCrop.ratio);
  if (spec.cropPadding) out = randomCrop(out, spec.cropPadding, rng);
  if (spec.flip && rng.next() < spec.flip) out = flipH(out);
  const rot = spec.rotation;
  if (rot && (rot.p === undefined || rng.next() < rot.p)) out = rotateNearest(out, rng.uniform(-rot.degrees, rot.degrees));
  if (spec.grayscale && rng.next() < spec.grayscale) out = grayscale(out);
  if (spec.colorJitter) out = colorJitter(out, spec.colorJitter.brightness, spec.colorJitter.contrast, rng);
  return out;
}
