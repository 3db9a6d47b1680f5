/**
 * safetensors files: read (fully validated, see safetensors-format.ts) and written atomically
 * (temporary file + fsync + rename) so that a crash never leaves a truncated checkpoint.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { tempPath } from '../util/files.js';
import { parseSafetensors, serializeSafetensors, type SafeTensor, type Safetensors } from './safetensors-format.js';

export { f32Tensor, parseSafetensors, serializeSafetensors, toFloat32, type SafeDType, type SafeTensor, type Safetensors } from './safetensors-format.js';

export function writeSafetensors(file: string, tensors: Map<string, SafeTensor>, metadata: Record<string, string> = {}): void {
  const bytes = serializeSafetensors(tensors, metadata);
  const tmp = tempPath(file);
  try {
    const fd = openSync(tmp, 'w');
    try {
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    // a failed save (a full disk) leaves no temporary file behind
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Reads and fully validates a safetensors file (every problem names the file and the tensor). */
export function readSafetensors(file: string): Safetensors {
  if (!existsSync(file)) throw new Error(`${file}: no such file`);
  return parseSafetensors(readFileSync(file), file);
}
