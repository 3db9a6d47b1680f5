/**
 * A defended-model folder's description (defense.json) and how to rebuild the model from the
 * folder's bytes: no file access, so a browser page opens the same folders `npm run defend`
 * writes (defend.ts reads them from disk).
 */
import type { RefitConfig } from '../refine/blackbox-refit.js';
import { ResNet } from '../nn/resnet.js';
import { loadWeights } from '../nn/weights.js';
import type { SafeTensor } from '../nn/safetensors-format.js';
import type { Normalization } from '../data/dataset.js';
import { DefendedModel } from '../refine/defended.js';
import type { GuardDecision, RefinePreset } from './refine-presets.js';

export type Arch = 'resnet18-cifar' | 'resnet18-imagenet' | 'resnet50-cifar' | 'resnet50-imagenet';
export const ARCHS: readonly Arch[] = ['resnet18-cifar', 'resnet18-imagenet', 'resnet50-cifar', 'resnet50-imagenet'];

export interface ClassifierSpec {
  arch: Arch;
  width: number;
  numClasses: number;
  inChannels: number;
}

/**
 * The ResNet variant of a checkpoint, from its tensor shapes: the stem kernel (7: ImageNet, 3:
 * CIFAR), bottleneck blocks (a `layer1.0.conv3`: ResNet-50), the width and the classes; `file`
 * labels the error.
 */
export function inferClassifierSpec(tensors: Map<string, SafeTensor>, file: string): ClassifierSpec {
  const conv1 = tensors.get('conv1.weight');
  const head = tensors.get('linear.weight') ?? tensors.get('fc.weight');
  if (!conv1 || conv1.shape.length !== 4 || !head || head.shape.length !== 2) {
    throw new Error(`${file}: not a ResNet checkpoint (needs conv1.weight and linear.weight or fc.weight); the architectures this tool defends: ${ARCHS.join(', ')}`);
  }
  const [out, inC, kh] = conv1.shape as [number, number, number, number];
  const depth = tensors.has('layer1.0.conv3.weight') ? 50 : 18;
  return { arch: `resnet${depth}-${kh === 7 ? 'imagenet' : 'cifar'}` as Arch, width: out / 64, numClasses: head.shape[0]!, inChannels: inC };
}

export function buildClassifier(spec: ClassifierSpec): ResNet {
  return new ResNet({ numClasses: spec.numClasses, inChannels: spec.inChannels, width: spec.width, stem: spec.arch.endsWith('imagenet') ? 'imagenet' : 'cifar', depth: spec.arch.startsWith('resnet50') ? 50 : 18 });
}

export interface DefenseConfig {
  format: 'refine-gpu-defense';
  version: 1;
  engine: { name: string; version: string };
  createdAt: string;
  classifier: ClassifierSpec & { file: 'classifier.safetensors'; sha256: string; source: string };
  input: { h: number; w: number; c: number; normalization: Normalization };
  classes: string[];
  preset: string;
  /** the REFINE configuration asked for (preset and overrides) */
  requested: RefinePreset;
  /** the configuration trained (`requested`, guarded when the guard fired) */
  refine: RefinePreset;
  /** whether the augmentation guard fired (then `refine` is the guarded configuration) */
  augmentationGuard: 'applied' | 'not needed' | 'off';
  /** which of the guard's checks fired (absent when the guard is off, and in folders written before the photometric probe; a probe added later is absent from older folders' decisions) */
  guard?: Partial<GuardDecision>;
  unlabeledImages: number;
  /**
   * a black box's defense (`npm run defend -- --blackbox-url`): the endpoint the deployed defense
   * queries; `classifier` is then the surrogate distilled from it, which REFINE trained against
   */
  blackBox?: BlackBoxEndpoint;
  /** with a black box: the refit after REFINE (refine/blackbox-refit.ts); absent when it was off */
  refit?: RefitConfig;
}

/** An HTTP black box's protocol settings (train/blackbox.ts, HttpBlackBoxOptions). */
export interface BlackBoxEndpoint {
  url: string;
  format: 'json' | 'binary';
  timeoutMs: number;
  retries: number;
  batchSize: number;
}

/** The bytes of a defended-model folder (what `npm run defend` writes). */
export interface DefendedFiles {
  /** defense.json's text */
  defense: string;
  /** classifier.safetensors */
  classifier: Uint8Array;
  /** unet.safetensors */
  unet: Uint8Array;
  /** mapping.json's text */
  mapping: string;
}

/** defense.json's text, parsed and checked to be one (`where` labels the error). */
export function parseDefenseConfig(text: string, where: string): DefenseConfig {
  let config: DefenseConfig | null = null;
  try {
    config = JSON.parse(text) as DefenseConfig;
  } catch {
    // reported below
  }
  if (!config || config.format !== 'refine-gpu-defense') throw new Error(`${where}: no defense.json of a defended model (made by npm run defend)`);
  return config;
}

/** The SHA-256 of some bytes as hex (WebCrypto: Node 20+ and browsers). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await globalThis.crypto.subtle.digest('SHA-256', new Uint8Array(bytes));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The defended model from a folder's bytes, the classifier's SHA-256 `sha256` (computed by the
 * caller) checked against defense.json's; `where` labels the errors. A black box's folder holds a
 * surrogate where the classifier would be, and is refused unless `surrogate` asks for the UNet and
 * mapping in front of it (what defend-blackbox.ts deploys in front of the black box instead).
 */
export function defendedFromFiles(f: DefendedFiles, sha256: string, where: string, o: { surrogate?: boolean } = {}): { defended: DefendedModel; config: DefenseConfig } {
  const config = parseDefenseConfig(f.defense, where);
  if (config.blackBox && !o.surrogate) throw new Error(`${where} defends the black box at ${config.blackBox.url}: its classifier file is the surrogate REFINE trained against, not the defended model; load it with loadBlackBoxDefense`);
  if (sha256 !== config.classifier.sha256) throw new Error(`${where}: the classifier's SHA-256 ${sha256.slice(0, 12)}… differs from defense.json's ${config.classifier.sha256.slice(0, 12)}… (a different classifier)`);
  const classifier = buildClassifier(config.classifier);
  try {
    loadWeights(classifier, f.classifier, `${where}: ${config.classifier.file}`);
    const defended = DefendedModel.fromBytes(classifier, f.unet, f.mapping, { firstChannels: config.refine.unetChannels, channels: config.input.c }, where);
    if (defended.renormalize === null && config.refine.renormalize) throw new Error(`${where}: defense.json says renormalize but mapping.json has no normalisation`);
    return { defended: defended.eval(), config };
  } catch (e) {
    classifier.dispose();
    throw e;
  }
}

/** defendedFromFiles with the SHA-256 computed here (async: WebCrypto). */
export async function openDefendedFiles(f: DefendedFiles, where = 'defended model'): Promise<{ defended: DefendedModel; config: DefenseConfig }> {
  return defendedFromFiles(f, await sha256Hex(f.classifier), where);
}
