/**
 * REFINE training configurations (docs/refine-recipe.md has each beside the official settings and
 * the measurements behind them).
 *
 * `paper`: the official code's values: SGD lr 0.01, momentum 0.9, weight decay 5e-4, 150 epochs,
 * MultiStepLR milestones [epochs−50, epochs−20] with γ = 0.8, batch 256 (64 for ImageNet-sized
 * inputs), drop_last, RandomResizedCrop(scale 0.8–1) + flip 0.5 + RandomGrayscale 0.2, BCE
 * utility, λ = 0.1, τ = 0.07, UNet c = 64 for 32-px inputs and 32 for ImageNet-sized (≥ 128 px)
 * inputs, the whole unlabeled training set.
 *
 * `quick`: the official schedule shortened for a 2-core machine: UNet c = 16, batch 128, a seeded
 * subset of 10,000 unlabeled images, 5 epochs (390 steps), lr 0.05.
 *
 * `budget` (the default beside the quick classifier preset): quick with 1,014 steps (13 epochs, the
 * most that fit in about an hour on a 2-core host) under a one-cycle lr peaking at 0.1, T(x)
 * normalised before the classifier, and the augmentation guard.
 *
 * Milestones for any epoch count follow the official formula [epochs−50, epochs−20]. The official
 * code hands them to PyTorch's MultiStepLR, which only ever reaches milestones ≥ 0 (the epoch
 * counter starts at 0), so negative ones are dropped (short runs keep lr 0.01) rather than
 * clamped to 0 (which would decay the lr from the first epoch).
 */
import { checkedGamma, checkedMilestones, ONE_CYCLE_DEFAULTS } from '../nn/optim.js';
import type { RefineConfig } from '../refine/defense.js';
import type { AugmentSpec } from '../data/augment.js';
import type { ImageDataset, Normalization } from '../data/dataset.js';
import { augmentationCheck, augmentationFiresBackdoor, type AugmentationCheck } from '../refine/diagnostics.js';
import type { predict } from '../train/evaluate.js';
import { assignDefined } from '../util/overrides.js';
import type { RefineOverrides } from './refine-flags.js';

export type { RefineOverrides } from './refine-flags.js';

export type RefinePresetName = 'budget' | 'quick' | 'paper';

export const REFINE_PRESETS: readonly RefinePresetName[] = ['budget', 'quick', 'paper'];

/** The REFINE preset that goes with a classifier preset when none is named: budget on the 2-core machine's quick preset. */
export function defaultRefinePreset(classifierPreset: string): RefinePresetName {
  return classifierPreset === 'paper' ? 'paper' : 'budget';
}

export interface RefinePreset extends RefineConfig {
  /** train REFINE on this many unlabeled training images (seeded subset); all when undefined */
  trainSubset?: number;
  /**
   * Run the augmentation check first and, when REFINE's augmentation fires the backdoor
   * (augmentationFiresBackdoor), train with the guard's remedy (guardedConfig). Unset: the
   * official behaviour whatever the check says.
   */
  augmentationGuard?: boolean;
}

/**
 * The photometric probe of the augmentation guard: ColorJitter(brightness 0.3, contrast 0.3)
 * (src/data/augment.ts). Lowering an image's contrast resembles a blended trigger (x' = 0.9 x +
 * 0.1 pattern on a mostly white pattern), and on the committed Blended model it moves 95% of the
 * changed pseudo-labels onto the target (docs/refine-recipe.md, "The augmentation guard").
 */
export const PHOTOMETRIC_PROBE: AugmentSpec = { colorJitter: { brightness: 0.3, contrast: 0.3 } };

/**
 * The rotation probe of the augmentation guard: RandomRotation(20) (nearest, black fill). A
 * rotation-triggered backdoor (BATT rotates by 16°) answers it: on the committed BATT model 75% of
 * the changed pseudo-labels go to the target, and a UNet trained without rotations passes the
 * trigger on as it converges (docs/refine-recipe.md, "The rotation probe").
 */
export const ROTATION_PROBE: AugmentSpec = { rotation: { degrees: 20 } };

export interface GuardProbeSpec {
  /** the transform checked, on every image */
  augment: AugmentSpec;
  /** what the remedy adds to REFINE's augmentation where the probe fires */
  train: AugmentSpec;
  /** the check's seed is the run's seed + this */
  seedOffset: number;
  /**
   * the probe resamples pixels as the resized crop does: a backdoor fired by any resampling (a
   * warp, WaNet) answers both, and the crop check's remedy already covers it, so the probe
   * counts only where the crop check did not fire
   */
  resamples?: boolean;
  /** in log lines ("a rotation up to ±20° changes …") */
  label: string;
  /** in reports' tables, and with `detail` in a defense's report */
  name: string;
  detail: string;
  /** what the remedy adds, in words (describeGuard) */
  remedy: string;
}

/**
 * The guard's probes besides REFINE's own augmentation: transforms a trigger may resemble. When
 * one fires, REFINE trains with its `train` transform added (pseudo-labels from the un-augmented
 * images), so that the UNet learns to give such images their own class instead of passing the
 * trigger on. The rotation remedy rotates a quarter of the images: rotating all of them cost the
 * PyTorch peer 4.2 BA points on BATT, half of them 1.75, a quarter 0.85, each with the same final
 * ASR (docs/refine-recipe.md, "The rotation probe").
 */
export const GUARD_PROBES: Record<'photometric' | 'rotation', GuardProbeSpec> = {
  photometric: { augment: PHOTOMETRIC_PROBE, train: PHOTOMETRIC_PROBE, seedOffset: 43, label: 'a brightness/contrast jitter', name: 'brightness/contrast probe', detail: 'ColorJitter 0.3 / 0.3', remedy: 'brightness/contrast jitter' },
  rotation: {
    augment: ROTATION_PROBE,
    train: { rotation: { degrees: 20, p: 0.25 } },
    seedOffset: 47,
    resamples: true,
    label: 'a rotation up to ±20°',
    name: 'rotation probe',
    detail: 'up to ±20°',
    remedy: 'random rotation ±20° on a quarter of the images',
  },
};

export type GuardProbe = keyof typeof GUARD_PROBES;

export const GUARD_PROBE_NAMES = Object.keys(GUARD_PROBES) as GuardProbe[];

/**
 * What the augmentation guard's label-free checks found (diagnostics.ts): `crop`, REFINE's own
 * augmentation (the resized crop); then one flag per probe. Decisions stored before a probe
 * existed lack its flag (read as not fired).
 */
export type GuardDecision = { crop: boolean } & Record<GuardProbe, boolean>;

/** What the augmentation guard's label-free checks measured (the probes only when the guard is on). */
export type GuardChecks = { augmentation: AugmentationCheck } & Partial<Record<GuardProbe, AugmentationCheck>>;

/** Images each check classifies twice (plain and augmented). */
export const GUARD_CHECK_IMAGES = 1000;

/** A decision in which nothing fired. */
export const NO_GUARD: GuardDecision = { crop: false, photometric: false, rotation: false };

/** Whether `checks` (stored by an earlier run) lack one of the guard's probes. */
export function lacksGuardProbe(checks: Partial<GuardChecks> | undefined): boolean {
  return GUARD_PROBE_NAMES.some((p) => !checks?.[p]);
}

/**
 * Runs the checks `have` lacks on `model` (the classifier whose pseudo-labels REFINE will train
 * on) over `images` of the unlabeled images (GUARD_CHECK_IMAGES unless a test asks for fewer):
 * REFINE's augmentation always (a diagnostic, seed + 41), the probes when the guard is on (seed +
 * each probe's offset).
 */
export async function runGuardChecks(
  model: Parameters<typeof predict>[0],
  unlabeled: ImageDataset,
  cfg: Pick<RefinePreset, 'augment' | 'augmentationGuard'>,
  normalization: Normalization | null,
  seed: number,
  have: Partial<GuardChecks> = {},
  images = GUARD_CHECK_IMAGES,
): Promise<GuardChecks> {
  const checks: GuardChecks = { augmentation: have.augmentation ?? (await augmentationCheck(model, unlabeled, cfg.augment, normalization, images, seed + 41)) };
  if (!cfg.augmentationGuard) return checks;
  for (const p of GUARD_PROBE_NAMES) checks[p] = have[p] ?? (await augmentationCheck(model, unlabeled, GUARD_PROBES[p].augment, normalization, images, seed + GUARD_PROBES[p].seedOffset));
  return checks;
}

/** A guard's checks and the decision taken from them, as experiment records store them. */
export interface GuardRecord {
  checks: GuardChecks;
  decision: GuardDecision;
}

/**
 * `prev` (an earlier run's record) when it has every check; otherwise the checks it lacks run on
 * `model` and the decision is taken again, joined with `base` (an earlier stage's decision, whose
 * remedies stay). The caller saves the record when it is not `prev`.
 */
export async function completeGuard(
  prev: GuardRecord | undefined,
  model: Parameters<typeof predict>[0],
  unlabeled: ImageDataset,
  cfg: Pick<RefinePreset, 'augment' | 'augmentationGuard'>,
  normalization: Normalization | null,
  seed: number,
  base: GuardDecision = NO_GUARD,
): Promise<GuardRecord> {
  if (prev && !lacksGuardProbe(prev.checks)) return prev;
  const checks = await runGuardChecks(model, unlabeled, cfg, normalization, seed, prev?.checks);
  return { checks, decision: eitherGuard(base, guardDecision(cfg, checks)) };
}

/** The guard's decision from its checks (nothing fires when the guard is off; a resampling probe not where the crop check fired). */
export function guardDecision(cfg: Pick<RefinePreset, 'augmentationGuard'>, c: Partial<GuardChecks>): GuardDecision {
  const on = Boolean(cfg.augmentationGuard);
  const fired = (check: AugmentationCheck | undefined) => on && check !== undefined && augmentationFiresBackdoor(check);
  const d = { ...NO_GUARD, crop: fired(c.augmentation) };
  for (const p of GUARD_PROBE_NAMES) d[p] = fired(c[p]) && !(GUARD_PROBES[p].resamples && d.crop);
  return d;
}

/** The remedies of either decision (a check that fired in either). */
export function eitherGuard(a: GuardDecision, b: GuardDecision): GuardDecision {
  const d = { ...NO_GUARD, crop: a.crop || b.crop };
  for (const p of GUARD_PROBE_NAMES) d[p] = (a[p] || b[p]) && !(GUARD_PROBES[p].resamples && d.crop);
  return d;
}

/** Whether any of the guard's checks fired. */
export function guardFired(d: Partial<GuardDecision>): boolean {
  return Boolean(d.crop) || GUARD_PROBE_NAMES.some((p) => d[p]);
}

/**
 * The configuration the augmentation guard trains with (unchanged when no check fired). Any
 * check: pseudo-labels from the un-augmented images (an augmentation that fires the backdoor
 * cannot poison them). The crop check: no RandomResizedCrop (the one transform that resamples
 * pixels, which is what fires a warping backdoor; flips and grayscale stay). Each probe that
 * fired: train with that probe's transform added. docs/refine-recipe.md has the measurements
 * behind each.
 */
export function guardedConfig<T extends RefineConfig>(cfg: T, d: Partial<GuardDecision>): T {
  if (!guardFired(d)) return cfg;
  let augment: AugmentSpec = cfg.augment;
  if (d.crop) {
    const { resizedCrop: _dropped, ...rest } = augment;
    augment = rest;
  }
  for (const p of GUARD_PROBE_NAMES) if (d[p]) augment = { ...augment, ...GUARD_PROBES[p].train };
  return { ...cfg, pseudoLabels: 'plain', augment };
}

/** The guard's remedy in words (logs and reports). */
export function describeGuard(d: Partial<GuardDecision>): string {
  const parts = [d.crop ? 'no resized crop' : '', ...GUARD_PROBE_NAMES.map((p) => (d[p] ? GUARD_PROBES[p].remedy : ''))].filter(Boolean);
  return parts.length ? `pseudo-labels from the un-augmented images, ${parts.join(', ')}` : 'not needed';
}

export interface ImageSize {
  h: number;
  w: number;
  c: number;
}

/** [epochs−50, epochs−20] without the milestones the official schedule never reaches (< 0). */
export function refineMilestones(epochs: number): number[] {
  return [epochs - 50, epochs - 20].filter((m) => m >= 0);
}

/** ImageNet-sized inputs (≥ 128 px) get the ImageNet values (c = 32, batch 64). */
export function isImageNetSized(size: ImageSize): boolean {
  return Math.min(size.h, size.w) >= 128;
}

export function refinePreset(name: string, size: ImageSize, seed = 666): RefinePreset {
  const imagenet = isImageNetSized(size);
  const paper: RefinePreset = {
    epochs: 150,
    batchSize: imagenet ? 64 : 256,
    lr: 0.01,
    momentum: 0.9,
    weightDecay: 5e-4,
    milestones: refineMilestones(150),
    gamma: 0.8,
    lambda: 0.1,
    temperature: 0.07,
    unetChannels: imagenet ? 32 : 64,
    utility: 'bce',
    mapping: 'derangement',
    augment: { resizedCrop: { scale: [0.8, 1] }, flip: 0.5, grayscale: 0.2 },
    dropLast: true,
    seed,
  };
  if (name === 'paper') return paper;
  const quickEpochs = 5;
  const quick: RefinePreset = { ...paper, epochs: quickEpochs, milestones: refineMilestones(quickEpochs), batchSize: imagenet ? 32 : 128, lr: 0.05, unetChannels: 16, trainSubset: 10000 };
  if (name === 'quick') return quick;
  if (name === 'budget') {
    // 2.6× quick's steps under a one-cycle schedule peaking at lr 0.1 (docs/refine-recipe.md)
    return { ...quick, epochs: 13, milestones: [], lr: 0.1, schedule: { ...ONE_CYCLE_DEFAULTS }, renormalize: true, augmentationGuard: true };
  }
  throw new Error(`unknown REFINE preset '${name}' (${REFINE_PRESETS.join(' | ')})`);
}

/**
 * Applies command-line overrides; the milestones follow a changed epoch count unless they are
 * given themselves (each must lie inside the run: 1 ≤ m < epochs, since a milestone at 0 or at
 * or past the end would never be a change of lr during training).
 */
export function withRefineOverrides(p: RefinePreset, o: RefineOverrides): RefinePreset {
  const out: RefinePreset = { ...p };
  if (o.schedule !== undefined) {
    if (o.schedule === 'onecycle') {
      out.schedule = { ...ONE_CYCLE_DEFAULTS };
      out.milestones = [];
    } else if (o.schedule === 'multistep') {
      delete out.schedule;
      out.milestones = refineMilestones(out.epochs);
    } else throw new Error(`REFINE schedule must be onecycle or multistep, got '${o.schedule}'`);
  }
  if (o.epochs !== undefined) {
    out.epochs = o.epochs;
    if (!out.schedule) out.milestones = refineMilestones(o.epochs);
  }
  if (o.milestones !== undefined) {
    if (out.schedule) throw new Error('REFINE milestones apply to the multistep schedule, not to onecycle (add --refine-schedule multistep)');
    out.milestones = checkedMilestones('REFINE', o.milestones, out.epochs);
  }
  if (o.gamma !== undefined) out.gamma = checkedGamma('REFINE', o.gamma);
  assignDefined(out, o as Omit<RefineOverrides, 'schedule'>, ['trainSubset', 'batchSize', 'lr', 'unetChannels', 'utility', 'lambda']);
  // both stay unset when off (the official behaviour), so that earlier configuration hashes hold
  for (const key of ['renormalize', 'augmentationGuard'] as const) {
    if (o[key] === true) out[key] = true;
    else if (o[key] === false) delete out[key];
  }
  if (o.pseudoLabels !== undefined) {
    if (o.pseudoLabels !== 'augmented' && o.pseudoLabels !== 'plain') throw new Error(`pseudo-labels must be augmented or plain, got '${o.pseudoLabels}'`);
    // 'augmented' is the official behaviour and stays unset, so that its configuration hash
    // (and the folders of earlier runs) do not change
    if (o.pseudoLabels === 'plain') out.pseudoLabels = 'plain';
    else delete out.pseudoLabels;
  }
  return out;
}

/**
 * ShrinkPad's pad for S-px images: 4 at 32 px (BackdoorBox's default; docs/method.md, "The
 * baseline: ShrinkPad"), scaled with the size.
 */
export function shrinkPadFor(size: number): number {
  return Math.max(1, Math.round((4 * size) / 32));
}
