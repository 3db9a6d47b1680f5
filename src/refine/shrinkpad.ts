/**
 * ShrinkPad (BackdoorBox's; docs/method.md, "The baseline: ShrinkPad"), the transformation
 * baseline: per image (on [0,1] pixels, before normalisation) resize to (S − pad)×(S − pad)
 * bilinearly, then zero-pad back to S×S with the padding split (left i, top j) drawn uniformly
 * among the (pad + 1)² choices; seeded. Works on uint8 HWC images (host side) so it slots in front
 * of any evaluation.
 */
import type { Image } from '../data/augment.js';
import { cropResize } from '../data/augment.js';
import type { ImageDataset } from '../data/dataset.js';
import { Rng } from '../util/random.js';

export function shrinkPadImage(img: Image, pad: number, rng: Rng): Image {
  const { h, w, c } = img;
  if (pad < 0 || pad >= Math.min(h, w)) throw new Error(`ShrinkPad: pad ${pad} does not fit a ${h}x${w} image`);
  const small = cropResize(img, 0, 0, h, w, h - pad, w - pad);
  const left = rng.int(pad + 1);
  const top = rng.int(pad + 1);
  const out = new Uint8Array(h * w * c);
  for (let y = 0; y < h - pad; y++) out.set(small.data.subarray(y * (w - pad) * c, (y + 1) * (w - pad) * c), ((y + top) * w + left) * c);
  return { data: out, h, w, c };
}

/** The dataset with every image ShrinkPad-ed (deterministic for a seed). */
export function shrinkPadDataset(ds: ImageDataset, pad = 4, seed = 0): ImageDataset {
  const rng = new Rng(seed);
  const px = ds.h * ds.w * ds.c;
  const images = new Uint8Array(ds.images.length);
  for (let i = 0; i < ds.n; i++) {
    const out = shrinkPadImage({ data: ds.images.subarray(i * px, (i + 1) * px), h: ds.h, w: ds.w, c: ds.c }, pad, rng);
    images.set(out.data, i * px);
  }
  return { ...ds, name: `${ds.name}+shrinkpad${pad}`, images };
}
