/** Dataset names accepted on the command line. */
import { loadCifar10 } from './cifar10.js';
import { NORMALIZATION, type Normalization, type Split } from './dataset.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { loadImageFolder } from './image-folder.js';

export const DATASETS = ['fashion-mnist', 'cifar10', 'folder:<dir with train/ and test/>'];

export function loadDataset(name: string, dataDir = 'data'): { split: Split; normalization: Normalization } {
  if (name === 'fashion-mnist') return { split: loadFashionMnist(dataDir), normalization: NORMALIZATION['fashion-mnist']! };
  if (name === 'cifar10') return { split: loadCifar10(dataDir), normalization: NORMALIZATION.cifar10! };
  if (name.startsWith('folder:')) {
    const root = name.slice('folder:'.length);
    return {
      split: { train: loadImageFolder(`${root}/train`, { size: 224 }), test: loadImageFolder(`${root}/test`, { size: 224 }) },
      normalization: NORMALIZATION.imagenet!,
    };
  }
  throw new Error(`unknown dataset '${name}'; one of: ${DATASETS.join(', ')}`);
}
