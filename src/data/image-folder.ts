/**
 * An image-folder dataset (ImageNet-style subsets): `root/<class>/*.png`, one sub-folder per
 * class (sorted by name → label), every image resized on load (bilinear) to size×size and
 * converted to the requested channel count.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { checkDataset, type ImageDataset } from './dataset.js';

/** Bilinear resize of one HWC uint8 image (half-pixel centres, like PIL/torchvision). */
export function resizeBilinearU8(src: Uint8Array, h: number, w: number, c: number, oh: number, ow: number): Uint8Array {
  const out = new Uint8Array(oh * ow * c);
  const sy = h / oh;
  const sx = w / ow;
  for (let y = 0; y < oh; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), h - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const wy = fy - y0;
    for (let x = 0; x < ow; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), w - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const wx = fx - x0;
      for (let k = 0; k < c; k++) {
        const v =
          (1 - wy) * ((1 - wx) * src[(y0 * w + x0) * c + k]! + wx * src[(y0 * w + x1) * c + k]!) +
          wy * ((1 - wx) * src[(y1 * w + x0) * c + k]! + wx * src[(y1 * w + x1) * c + k]!);
        out[(y * ow + x) * c + k] = Math.round(v);
      }
    }
  }
  return out;
}

/** Decodes a PNG to HWC uint8 with `channels` channels (1: luminance, 3: RGB). */
export function decodePng(file: string, channels: 1 | 3): { data: Uint8Array; h: number; w: number } {
  let png: PNG;
  try {
    png = PNG.sync.read(readFileSync(file));
  } catch (e) {
    throw new Error(`${file}: not a readable PNG (${(e as Error).message})`);
  }
  const { width: w, height: h, data } = png; // RGBA
  const out = new Uint8Array(h * w * channels);
  for (let p = 0; p < h * w; p++) {
    const r = data[4 * p]!;
    const g = data[4 * p + 1]!;
    const b = data[4 * p + 2]!;
    if (channels === 3) {
      out[3 * p] = r;
      out[3 * p + 1] = g;
      out[3 * p + 2] = b;
    } else {
      out[p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    }
  }
  return { data: out, h, w };
}

export function loadImageFolder(root: string, opts: { size: number; channels?: 1 | 3; name?: string }): ImageDataset {
  const c = opts.channels ?? 3;
  let classes: string[];
  try {
    classes = readdirSync(root)
      .filter((d) => statSync(join(root, d)).isDirectory())
      .sort();
  } catch (e) {
    throw new Error(`${root}: cannot read the image folder (${(e as Error).message})`);
  }
  if (classes.length === 0) throw new Error(`${root}: no class sub-folders`);
  const files: [string, number][] = [];
  classes.forEach((cls, label) => {
    for (const f of readdirSync(join(root, cls)).sort()) if (f.toLowerCase().endsWith('.png')) files.push([join(root, cls, f), label]);
  });
  if (files.length === 0) throw new Error(`${root}: no .png images in its class folders`);
  const s = opts.size;
  const images = new Uint8Array(files.length * s * s * c);
  const labels = new Uint8Array(files.length);
  files.forEach(([file, label], i) => {
    const img = decodePng(file, c);
    const px = img.h === s && img.w === s ? img.data : resizeBilinearU8(img.data, img.h, img.w, c, s, s);
    images.set(px, i * s * s * c);
    labels[i] = label;
  });
  return checkDataset({ name: opts.name ?? root, images, labels, n: files.length, h: s, w: s, c, classes });
}
