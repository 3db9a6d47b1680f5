/**
 * Does REFINE's own training augmentation fire the backdoor? (issue: "a training augmentation
 * can itself activate a backdoor (warps and resizes resemble WaNet's trigger), which poisons the
 * pseudo-labels").
 *
 * REFINE takes its pseudo-labels from the frozen classifier on the *augmented* batch (the official
 * code; docs/refine-recipe.md, "The augmentation guard"),
 * so an augmentation that activates the backdoor turns those images' pseudo-labels into the
 * target class, and the UNet is trained to serve the backdoor. This check compares the
 * classifier's predictions on n unlabeled images with and without the augmentation — label-free,
 * as a defender could run it on a model of unknown target: how many pseudo-labels the
 * augmentation changes, and whether the changes pile onto one class.
 */
import { augment, type AugmentSpec } from '../data/augment.js';
import { seededSubset, type ImageDataset, type Normalization } from '../data/dataset.js';
import { imageAt } from '../data/loader.js';
import { predict } from '../train/evaluate.js';
import { Rng } from '../util/random.js';

export interface AugmentationCheck {
  images: number;
  augment: AugmentSpec;
  /** share of images whose pseudo-label the augmentation changes */
  changed: number;
  /** predicted-class shares on the plain and on the augmented images */
  plainShares: number[];
  augmentedShares: number[];
  /** the class that receives most changed pseudo-labels, and its share of the changes */
  topChangedTo: number;
  topChangedToShare: number;
  /** largest rise of one class's share from plain to augmented (percentage points / 100), and that class */
  maxShareRise: number;
  maxShareRiseClass: number;
}

/** Compares two label vectors over `classes` classes (the counting half of the check). */
export function compareLabels(plain: ArrayLike<number>, augmented: ArrayLike<number>, classes: number): Omit<AugmentationCheck, 'images' | 'augment'> {
  const n = plain.length;
  if (augmented.length !== n) throw new Error(`compareLabels: ${n} plain vs ${augmented.length} augmented labels`);
  const ps = new Array<number>(classes).fill(0);
  const as = new Array<number>(classes).fill(0);
  const to = new Array<number>(classes).fill(0);
  let changed = 0;
  for (let i = 0; i < n; i++) {
    ps[plain[i]!]! += 1 / n;
    as[augmented[i]!]! += 1 / n;
    if (plain[i] !== augmented[i]) {
      changed++;
      to[augmented[i]!]!++;
    }
  }
  const top = to.indexOf(Math.max(...to));
  const rise = as.map((a, k) => a - ps[k]!);
  const riseClass = rise.indexOf(Math.max(...rise));
  return {
    changed: n ? changed / n : 0,
    plainShares: ps,
    augmentedShares: as,
    topChangedTo: top,
    topChangedToShare: changed ? to[top]! / changed : 0,
    maxShareRise: rise[riseClass]!,
    maxShareRiseClass: riseClass,
  };
}

/** One seeded augmented copy of each of the first `n` images of `ds` (with `spec`'s transforms). */
export function augmentedCopy(ds: ImageDataset, spec: AugmentSpec, seed: number, n = ds.n): ImageDataset {
  const m = Math.min(n, ds.n);
  const px = ds.h * ds.w * ds.c;
  const rng = new Rng(seed);
  const images = new Uint8Array(m * px);
  for (let i = 0; i < m; i++) {
    const out = augment(imageAt(ds, i), spec, rng);
    if (out.h !== ds.h || out.w !== ds.w || out.c !== ds.c) throw new Error(`augmentedCopy: the augmentation changed the image shape (${out.h}x${out.w}x${out.c})`);
    images.set(out.data, i * px);
  }
  return { ...ds, name: `${ds.name}+aug`, images, labels: ds.labels.slice(0, m), n: m };
}

/**
 * The check on n images of `ds` drawn at random (seeded; REFINE's unlabeled data, its labels
 * are not used). A random draw, not the first n: an image folder is read class by class, so its
 * first 1,000 images may all be one class, which a jitter can move en bloc to another class and
 * look like a backdoor firing.
 */
export async function augmentationCheck(
  model: Parameters<typeof predict>[0],
  ds: ImageDataset,
  spec: AugmentSpec,
  normalization: Normalization | null,
  n = 1000,
  seed = 1,
): Promise<AugmentationCheck> {
  const plain = seededSubset(ds, n, seed);
  const aug = augmentedCopy(plain, spec, seed);
  const p = await predict(model, plain, { normalization });
  const a = await predict(model, aug, { normalization });
  return { images: plain.n, augment: spec, ...compareLabels(p, a, ds.classes.length) };
}

/**
 * The augmentation guard's decision: REFINE's augmentation fires a backdoor when it moves one
 * class's share of the pseudo-labels up by at least `minRise` (default 10 points) and that class
 * receives at least `minTopShare` (default half) of the changed labels. On the committed
 * Fashion-MNIST models WaNet gives +37 points / 89%, the six other attacks at most +4.7 points /
 * 37% (docs/refine-recipe.md), so the thresholds sit far from both.
 */
export function augmentationFiresBackdoor(a: Pick<AugmentationCheck, 'maxShareRise' | 'maxShareRiseClass' | 'topChangedTo' | 'topChangedToShare'>, minRise = 0.1, minTopShare = 0.5): boolean {
  return a.maxShareRise >= minRise && a.topChangedTo === a.maxShareRiseClass && a.topChangedToShare >= minTopShare;
}
