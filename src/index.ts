/** refine-gpu: a WebGPU tensor engine with autograd, and the REFINE backdoor defense. */
export { init, rt, shutdown, type InitOptions } from './tensor/device.js';
export { Runtime, type DispatchSpec } from './tensor/runtime.js';
export { Tensor, tensor, empty, view, type DType, type Shape } from './tensor/tensor.js';
export { scope, keep } from './tensor/scope.js';
export { Uniforms } from './tensor/uniforms.js';
export { backward, noGrad, isGradEnabled, releaseGraph, record } from './autograd/tape.js';
export * as ops from './ops/all.js';
export { autotune, describeTuning, type AutotuneOptions, type AutotuneResult } from './ops/autotune.js';
export { tunedVariant, setTunedVariant, type TuneFamily } from './ops/tuning.js';
export { Rng } from './util/random.js';
export { Module, Sequential } from './nn/module.js';
export { Conv2d, BatchNorm2d, Linear, ReLU, MaxPool2d, GlobalAvgPool, Init } from './nn/layers.js';
export { ResNet, ResNet18, ResNet50, type ResNetOptions } from './nn/resnet.js';
export { UNet, type UNetOptions } from './nn/unet.js';
export { SGD, Adam, MultiStepLR, Optimizer } from './nn/optim.js';
export { supConLoss, supConNormalized } from './refine/supcon.js';
export { randomDerangement, identityMapping, invertPermutation } from './refine/mapping.js';
// weights in memory (safetensors bytes with PyTorch names), the defended model and REFINE's step:
// what a browser page needs to load a classifier and a defended model from files the user picks
// and to train REFINE in a tab (refine-gpu/node adds files, datasets and the resumable trainers)
export { parseSafetensors, serializeSafetensors, toFloat32, type SafeTensor, type Safetensors } from './nn/safetensors-format.js';
export { loadWeights, weightsToBytes, loadStateDict, stateDictTensors } from './nn/weights.js';
export { DefendedModel } from './refine/defended.js';
export { refineStep, type RefineBatch, type RefineLossConfig, type RefineStepResult } from './refine/step.js';
export { oneCycleAt, type OneCycle } from './nn/optim.js';
export { checkDataset, datasetFromImages, NORMALIZATION, type ImageDataset, type Normalization, type RgbaImage } from './data/dataset.js';
export { batches, batchCount, type Batch, type LoaderOptions } from './data/loader.js';
export { predict, accuracy, hits } from './train/evaluate.js';
export { openDefendedFiles, defendedFromFiles, buildClassifier, inferClassifierSpec, sha256Hex, type DefendedFiles, type DefenseConfig, type ClassifierSpec } from './pipeline/defense-config.js';
export { refinePreset, guardedConfig, guardDecision, runGuardChecks, describeGuard, GUARD_PROBES, type GuardChecks, type GuardDecision, type RefinePreset } from './pipeline/refine-presets.js';
export { subset } from './data/dataset.js';
export { trainRefine, defendedAccuracy, type RefineConfig, type RefineOptions, type RefineEpochLog, type RefineStepLog } from './refine/train.js';
export { DivergedError, type RunStore } from './train/run-state.js';
export { functionBlackBox, httpBlackBox, moduleBlackBox, checkProbabilities, type BlackBox, type ImageBatch, type HttpBlackBoxOptions } from './train/blackbox.js';
export { distillSurrogate, queryAll, type DistillLog } from './train/distill.js';
export { blackBoxRefine, BlackBoxDefense, type BlackBoxRefineOptions, type BlackBoxRefineResult } from './refine/blackbox-defense.js';
export { refitBlackBox, defaultRefit, type RefitConfig, type RefitOptions, type RefitResult } from './refine/blackbox-refit.js';
export { adaptiveFineTune, type AdaptiveConfig, type AdaptiveLog } from './refine/adaptive.js';
