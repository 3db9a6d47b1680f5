/** Dataset names accepted on the command line. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadCifar10 } from './cifar10.js';
import { NORMALIZATION, type ImageDataset, type Normalization, type Split } from './dataset.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { loadImageFolder, type ImageFolderOptions } from './image-folder.js';

export const DATASETS = ['fashion-mnist', 'cifar10', 'folder:<dir with train/ and test/>'];

/** How image folders are read: size, channels and class list (ImageFolderOptions without the name). */
export type FolderOptions = Omit<ImageFolderOptions, 'name'>;

/** Per-channel pixel mean and standard deviation of a dataset, in [0, 1] units. */
export function datasetStats(ds: ImageDataset): Normalization {
  const c = ds.c;
  const sum = new Float64Array(c);
  const sq = new Float64Array(c);
  for (let i = 0; i < ds.images.length; i++) {
    const v = ds.images[i]! / 255;
    sum[i % c]! += v;
    sq[i % c]! += v * v;
  }
  const n = ds.images.length / c;
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(sq, (s, k) => Math.sqrt(Math.max(s / n - mean[k]! ** 2, 1e-12)));
  return { mean: mean.map((v) => Number(v.toFixed(4))), std: std.map((v) => Number(Math.max(v, 1e-3).toFixed(4))) };
}

/**
 * An image folder `root/train/<class>/…` and `root/test/<class>/…`: the test split takes the
 * training split's class list, size and channels. Normalisation: ImageNet's for RGB images of
 * 128 px and more (pretrained-style models), else the training split's own mean and std.
 */
export function loadFolderSplit(root: string, opts: FolderOptions = {}): { split: Split; normalization: Normalization } {
  const train = loadImageFolder(join(root, 'train'), { ...opts, name: `${root}/train` });
  if (!existsSync(join(root, 'test'))) throw new Error(`${root}: no test/ folder beside train/`);
  const test = loadImageFolder(join(root, 'test'), { size: { h: train.h, w: train.w }, channels: train.c as 1 | 3, classes: train.classes, name: `${root}/test` });
  const normalization = train.c === 3 && Math.min(train.h, train.w) >= 128 ? NORMALIZATION.imagenet! : datasetStats(train);
  return { split: { train, test }, normalization };
}

export function loadDataset(name: string, dataDir = 'data', folder: FolderOptions = {}): { split: Split; normalization: Normalization } {
  if (name === 'fashion-mnist') return { split: loadFashionMnist(dataDir), normalization: NORMALIZATION['fashion-mnist']! };
  if (name === 'cifar10') return { split: loadCifar10(dataDir), normalization: NORMALIZATION.cifar10! };
  if (name.startsWith('folder:')) return loadFolderSplit(name.slice('folder:'.length), folder);
  throw new Error(`unknown dataset '${name}'; one of: ${DATASETS.join(', ')}`);
}
