/**
 * refine-gpu/node: the Node-side parts that read and write files — datasets, checkpoints,
 * training, the defense's trainer, the attacks and the reproduction pipeline. The main entry
 * (refine-gpu) stays free of Node-only imports so that it runs in a browser.
 */
export * from './index.js';
export * from './data/dataset.js';
export { loadDataset, DATASETS } from './data/registry.js';
export { loadFashionMnist, fetchFashionMnist } from './data/fashion-mnist.js';
export { loadCifar10, fetchCifar10, importCifar10 } from './data/cifar10.js';
export { loadImageFolder } from './data/image-folder.js';
export { batches, type LoaderOptions } from './data/loader.js';
export { saveCheckpoint, loadCheckpoint } from './nn/checkpoint.js';
export { readSafetensors, writeSafetensors } from './nn/safetensors.js';
export { trainClassifier, type TrainConfig } from './train/trainer.js';
export { accuracy, predict } from './train/evaluate.js';
export { classifierPreset } from './train/presets.js';
export { trainRefine, saveDefended, loadDefendedModel, type RefineConfig } from './refine/defense.js';
export { shrinkPadDataset, shrinkPadImage } from './refine/shrinkpad.js';
export { attacks } from './attacks/index.js';
export { loadFolderSplit, datasetStats, type FolderOptions } from './data/registry.js';
export { defend, loadDefended, inferClassifier, buildClassifier, type DefendOptions, type DefenseConfig, type DefenseReport } from './pipeline/defend.js';
export { defendBlackBox, loadBlackBoxDefense, type DefendBlackBoxOptions } from './pipeline/defend-blackbox.js';
export { blackBoxHandler } from './train/blackbox-server.js';
export { refinePreset, withRefineOverrides, REFINE_PRESETS, type RefinePreset } from './pipeline/refine-presets.js';
export { augmentationCheck, augmentationFiresBackdoor } from './refine/diagnostics.js';
