/**
 * Module checkpoints as safetensors files with PyTorch names and layouts (weights.ts converts;
 * safetensors.ts writes atomically and validates what it reads).
 */
import type { Module } from './module.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { loadStateDict, stateDictTensors } from './weights.js';

export async function saveCheckpoint(module: Module, file: string, metadata: Record<string, string> = {}): Promise<void> {
  writeSafetensors(file, await stateDictTensors(module), { format: 'pt', ...metadata });
}

/**
 * Loads a checkpoint file in place: all or nothing (weights.ts, loadStateDict); torchvision names
 * and F16 / BF16 / F64 files are accepted. Returns the file's metadata.
 */
export function loadCheckpoint(module: Module, file: string): Record<string, string> {
  return loadStateDict(module, readSafetensors(file), file);
}
