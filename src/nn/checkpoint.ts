/**
 * Module checkpoints as safetensors with PyTorch-compatible names and layouts: convolution
 * weights are converted between our HWIO and PyTorch's OIHW, so a PyTorch user can
 * `load_state_dict(safetensors.torch.load_file(f))` a model we trained, and vice versa.
 * BatchNorm's `num_batches_tracked` is written as an int64 scalar as PyTorch expects.
 */
import { rt } from '../tensor/device.js';
import type { Tensor } from '../tensor/tensor.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from './safetensors.js';
import { bumpWeightsVersion, type Module } from './module.js';

function hwioToOihw(d: Float32Array, [kh, kw, ci, co]: readonly number[]): Float32Array {
  const out = new Float32Array(d.length);
  for (let y = 0; y < kh!; y++) for (let x = 0; x < kw!; x++) for (let i = 0; i < ci!; i++) for (let o = 0; o < co!; o++) out[((o * ci! + i) * kh! + y) * kw! + x] = d[((y * kw! + x) * ci! + i) * co! + o]!;
  return out;
}

function oihwToHwio(d: Float32Array, [kh, kw, ci, co]: readonly number[]): Float32Array {
  const out = new Float32Array(d.length);
  for (let y = 0; y < kh!; y++) for (let x = 0; x < kw!; x++) for (let i = 0; i < ci!; i++) for (let o = 0; o < co!; o++) out[((y * kw! + x) * ci! + i) * co! + o] = d[((o * ci! + i) * kh! + y) * kw! + x]!;
  return out;
}

/** PyTorch shape of one of our tensors (4-D = conv weight HWIO → OIHW). */
function torchShape(t: Tensor): number[] {
  const s = [...t.shape];
  return s.length === 4 ? [s[3]!, s[2]!, s[0]!, s[1]!] : s;
}

export async function saveCheckpoint(module: Module, file: string, metadata: Record<string, string> = {}): Promise<void> {
  const out = new Map<string, SafeTensor>();
  for (const [name, t] of module.stateDict()) {
    const data = (await t.read()) as Float32Array;
    const torch = t.rank === 4 ? hwioToOihw(data, t.shape) : data;
    out.set(name, { dtype: 'F32', shape: torchShape(t), data: new Uint8Array(torch.buffer) });
    if (name.endsWith('running_var')) {
      const prefix = name.slice(0, -'running_var'.length);
      const nbt = new BigInt64Array([BigInt((module as unknown as { batchesTracked?: (p: string) => number }).batchesTracked?.(prefix) ?? 0)]);
      out.set(`${prefix}num_batches_tracked`, { dtype: 'I64', shape: [], data: new Uint8Array(nbt.buffer) });
    }
  }
  writeSafetensors(file, out, { format: 'pt', ...metadata });
}

/** Loads weights in place; every parameter and buffer must be present with the right shape. */
export function loadCheckpoint(module: Module, file: string): Record<string, string> {
  bumpWeightsVersion();
  const { tensors, metadata } = readSafetensors(file);
  const state = module.stateDict();
  const missing = [...state.keys()].filter((k) => !tensors.has(k));
  if (missing.length) throw new Error(`${file}: missing ${missing.length} tensor(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
  const unexpected = [...tensors.keys()].filter((k) => !state.has(k) && !k.endsWith('num_batches_tracked'));
  if (unexpected.length) throw new Error(`${file}: unexpected tensor(s) ${unexpected.slice(0, 5).join(', ')} (a checkpoint of another architecture?)`);
  for (const [name, t] of state) {
    const s = tensors.get(name)!;
    const want = torchShape(t);
    if (s.dtype !== 'F32' || s.shape.length !== want.length || s.shape.some((d, i) => d !== want[i])) {
      throw new Error(`${file}: ${name} is ${s.dtype} [${s.shape}], the model expects F32 [${want}]`);
    }
    const f = new Float32Array(s.data.buffer, s.data.byteOffset, s.data.byteLength / 4);
    rt().write(t.buffer, t.rank === 4 ? oihwToHwio(f, t.shape) : f);
  }
  return metadata;
}
