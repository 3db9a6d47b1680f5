/**
 * Image-folder datasets: `root/<class>/*.{png,jpg,jpeg}`, one sub-folder per class. The class
 * list comes from the folder itself (sorted names) or is given (`classes`: the training split's, a
 * class-names file, a defended model's configuration), so that every split of a dataset shares
 * one label numbering: a class folder the list lacks is an error, never a silent shift of labels.
 * Images keep their native size unless `size` is given (then they are resized, bilinear), and
 * keep the channels of the files (grey when every file is grey, else RGB) unless `channels` is
 * given. PNG through pngjs, JPEG through jpeg-js.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
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

/** A decoded image as RGBA plus whether the file itself is grey (every pixel r = g = b). */
interface Rgba {
  data: Uint8Array;
  h: number;
  w: number;
  grey: boolean;
}

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];

/** Image formats that are not read: refused rather than skipped, so no image vanishes silently. */
const OTHER_IMAGE_EXTENSIONS = ['.bmp', '.gif', '.webp', '.tif', '.tiff', '.ppm', '.pgm', '.avif', '.heic'];

export function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
}

function isGrey(rgba: Uint8Array): boolean {
  for (let p = 0; p < rgba.length; p += 4) if (rgba[p] !== rgba[p + 1] || rgba[p] !== rgba[p + 2]) return false;
  return true;
}

/** Decodes a PNG or JPEG file (by content, whatever its extension) to RGBA. */
function decodeRgba(file: string): Rgba {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read the image (${(e as Error).message})`);
  }
  const png = buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47;
  const jpg = buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;
  try {
    if (png) {
      const p = PNG.sync.read(buf);
      const data = new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength);
      return { data, h: p.height, w: p.width, grey: isGrey(data) };
    }
    if (jpg) {
      const j = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 512 });
      return { data: j.data, h: j.height, w: j.width, grey: isGrey(j.data) };
    }
  } catch (e) {
    throw new Error(`${file}: not a readable ${png ? 'PNG' : 'JPEG'} (${(e as Error).message})`);
  }
  throw new Error(`${file}: neither a PNG nor a JPEG file`);
}

function toChannels(img: Rgba, channels: 1 | 3): Uint8Array {
  const n = img.h * img.w;
  const out = new Uint8Array(n * channels);
  const d = img.data;
  for (let p = 0; p < n; p++) {
    if (channels === 3) {
      out[3 * p] = d[4 * p]!;
      out[3 * p + 1] = d[4 * p + 1]!;
      out[3 * p + 2] = d[4 * p + 2]!;
    } else {
      out[p] = Math.round(0.299 * d[4 * p]! + 0.587 * d[4 * p + 1]! + 0.114 * d[4 * p + 2]!);
    }
  }
  return out;
}

/** An image as a classifier's h×w×c uint8 input, and what was changed to make it one. */
export interface AdaptedImage {
  data: Uint8Array;
  /** the file's [h, w] when it was resized (bilinear) */
  resizedFrom?: [number, number];
  /** set when a colour file was converted to grey (ITU-R 601 luminance) for a grey input */
  convertedFrom?: 'colour';
}

function adapt(img: Rgba, h: number, w: number, c: 1 | 3): AdaptedImage {
  const data = toChannels(img, c);
  const resize = img.h !== h || img.w !== w;
  return {
    data: resize ? resizeBilinearU8(data, img.h, img.w, c, h, w) : data,
    ...(resize ? { resizedFrom: [img.h, img.w] as [number, number] } : {}),
    ...(c === 1 && !img.grey ? { convertedFrom: 'colour' as const } : {}),
  };
}

/** Decodes a PNG or JPEG as an h×w×c input (HWC uint8; c = 1: luminance, 3: RGB). */
export function loadImageAs(file: string, h: number, w: number, c: 1 | 3): AdaptedImage {
  return adapt(decodeRgba(file), h, w, c);
}

/** What adapting `images` to h×w did, a phrase per kind of change ("3 of 10 image(s) resized to 28×28 (bilinear)"), absent when none. */
export function describeAdapted(images: Omit<AdaptedImage, 'data'>[], h: number, w: number): { resized?: string; greyed?: string } {
  const resized = images.filter((a) => a.resizedFrom).length;
  const greyed = images.filter((a) => a.convertedFrom).length;
  return {
    ...(resized ? { resized: `${resized} of ${images.length} image(s) resized to ${w}×${h} (bilinear)` } : {}),
    ...(greyed ? { greyed: `${greyed} of ${images.length} colour image(s) converted to grey (ITU-R 601 luminance)` } : {}),
  };
}

export interface ImageFolderOptions {
  /** resize every image to this size; native size (all images must share it) when unset */
  size?: { h: number; w: number };
  /** 1 (grey) or 3 (RGB); from the files when unset (grey when every image is grey) */
  channels?: 1 | 3;
  /** the class list (label = index); the folder's sorted sub-folder names when unset */
  classes?: string[];
  name?: string;
  /** told, once, when images were resized or colour images converted to grey (what it did, counted) */
  onAdapted?: (message: string) => void;
}

/** The sorted class sub-folders of `root` (errors name the folder). */
export function classFolders(root: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch (e) {
    throw new Error(`${root}: cannot read the image folder (${(e as Error).message})`);
  }
  const classes = entries.filter((d) => statSync(join(root, d)).isDirectory()).sort();
  if (classes.length === 0) throw new Error(`${root}: no class sub-folders (expected ${root}/<class>/*.png|jpg)`);
  return classes;
}

/** The image files of an image folder with their labels under `classes`. */
function listFiles(root: string, classes: string[], given: boolean): [string, number][] {
  const found = classFolders(root);
  const unknown = found.filter((c) => !classes.includes(c));
  if (unknown.length) throw new Error(`${root}: class folder(s) ${unknown.map((c) => `'${c}'`).join(', ')} not in the class list (${classes.join(', ')}): a class the training split lacks?`);
  const files: [string, number][] = [];
  for (const cls of found) {
    const names = readdirSync(join(root, cls)).sort();
    const images = names.filter(isImageFile);
    // other files (notes, .DS_Store) are ignored, but an image we cannot read must not vanish
    const unread = names.filter((f) => OTHER_IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()));
    if (unread.length) throw new Error(`${join(root, cls, unread[0]!)}: ${extname(unread[0]!)} images are not read (PNG and JPEG are${unread.length > 1 ? `; ${unread.length} such files in this folder` : ''}): convert them or move them out`);
    // an empty folder would become a class of its own when the class list comes from the folders;
    // under a given class list (a test split) it only means that class has no images here
    if (images.length === 0 && !given) throw new Error(`${join(root, cls)}: empty class folder (no .png / .jpg images${names.length ? `; ${names.length} other file(s)` : ''})`);
    for (const f of images) files.push([join(root, cls, f), classes.indexOf(cls)]);
  }
  return files;
}

export function loadImageFolder(root: string, opts: ImageFolderOptions = {}): ImageDataset {
  const classes = opts.classes ?? classFolders(root);
  if (classes.length > 256) throw new Error(`${root}: ${classes.length} classes; labels are stored as uint8 (at most 256)`);
  const files = listFiles(root, classes, opts.classes !== undefined);
  if (files.length === 0) throw new Error(`${root}: no .png / .jpg images in its class folders`);
  const decoded = files.map(([file]) => decodeRgba(file));
  const c = opts.channels ?? (decoded.every((d) => d.grey) ? 1 : 3);
  let size = opts.size;
  if (!size) {
    const { h, w } = decoded[0]!;
    const other = decoded.findIndex((d) => d.h !== h || d.w !== w);
    if (other >= 0) throw new Error(`${root}: images of different sizes (${files[0]![0]} is ${w}×${h}, ${files[other]![0]} is ${decoded[other]!.w}×${decoded[other]!.h}): give an input size to resize them`);
    size = { h, w };
  }
  const { h: sh, w: sw } = size;
  const px = sh * sw * c;
  const images = new Uint8Array(files.length * px);
  const labels = new Uint8Array(files.length);
  const adapted = decoded.map((img, i) => {
    const { data, ...a } = adapt(img, sh, sw, c);
    images.set(data, i * px);
    labels[i] = files[i]![1];
    return a;
  });
  const done = Object.values(describeAdapted(adapted, sh, sw));
  if (done.length) opts.onAdapted?.(`${root}: ${done.join('; ')}`);
  return checkDataset({ name: opts.name ?? root, images, labels, n: files.length, h: sh, w: sw, c, classes });
}
