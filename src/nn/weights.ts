/**
 * A module's weights as safetensors with PyTorch-compatible names and layouts, in memory (no file
 * access, so it runs in a browser too; checkpoint.ts reads and writes files): convolution weights
 * are converted between our HWIO and PyTorch's OIHW, so a PyTorch user can
 * `load_state_dict(safetensors.torch.load_file(f))` a model we trained, and vice versa.
 * BatchNorm's `num_batches_tracked` is written as an int64 scalar as PyTorch expects.
 */
import { rt } from '../tensor/device.js';
import type { Tensor } from '../tensor/tensor.js';
import { parseSafetensors, serializeSafetensors, toFloat32, type SafeTensor, type Safetensors } from './safetensors-format.js';
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

/** The module's parameters and buffers under PyTorch names and layouts. */
export async function stateDictTensors(module: Module): Promise<Map<string, SafeTensor>> {
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
  return out;
}

/** The bytes of a safetensors file of the module's weights (what saveCheckpoint writes). */
export async function weightsToBytes(module: Module, metadata: Record<string, string> = {}): Promise<Uint8Array> {
  return serializeSafetensors(await stateDictTensors(module), { format: 'pt', ...metadata });
}

/**
 * Other naming families of the same tensors: torchvision's ResNet calls the projection shortcut
 * `downsample` and the classifier `fc`, BackdoorBox's (and ours) `shortcut` and `linear`.
 */
const ALIASES: [RegExp, string][] = [
  [/\.downsample\./, '.shortcut.'],
  [/^fc\./, 'linear.'],
];

/** The file's names mapped to the module's: exact where they match, else through ALIASES. */
function matchNames(fileNames: Iterable<string>, wanted: Set<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of fileNames) {
    if (wanted.has(f)) {
      out.set(f, f);
      continue;
    }
    let g = f;
    for (const [re, to] of ALIASES) g = g.replace(re, to);
    if (wanted.has(g)) out.set(f, g);
  }
  return out;
}

/**
 * Loads parsed safetensors into the module, in place (`name` labels the errors: the file). Every parameter and buffer must be present (PyTorch names; torchvision's
 * `downsample` / `fc` are accepted for `shortcut` / `linear`) with the right shape, in F32, F16,
 * BF16 or F64, and finite. Everything is checked and converted before the first weight is
 * written, so a file that does not fit leaves the module as it was; the error lists every
 * missing, unexpected, mis-shaped and non-finite tensor (with the expected and found shapes).
 */
export function loadStateDict(module: Module, { tensors, metadata }: Safetensors, file = 'weights'): Record<string, string> {
  const state = module.stateDict();
  const names = matchNames(tensors.keys(), new Set(state.keys()));
  const byModule = new Map([...names].map(([f, m]) => [m, f]));
  const problems: string[] = [];
  for (const [name, t] of state) if (!byModule.has(name)) problems.push(`missing ${name} [${torchShape(t)}]`);
  for (const [f, s] of tensors) if (!names.has(f) && !f.endsWith('num_batches_tracked')) problems.push(`unexpected ${f} ${s.dtype} [${s.shape}]`);
  const values = new Map<Tensor, Float32Array>();
  for (const [name, t] of state) {
    const f = byModule.get(name);
    if (f === undefined) continue;
    const s = tensors.get(f)!;
    const want = torchShape(t);
    if (s.shape.length !== want.length || s.shape.some((d, i) => d !== want[i])) {
      problems.push(`${f}: found [${s.shape}], the model expects [${want}]`);
      continue;
    }
    if (s.dtype !== 'F32' && s.dtype !== 'F16' && s.dtype !== 'BF16' && s.dtype !== 'F64') {
      problems.push(`${f}: found ${s.dtype}, the model expects a floating-point tensor`);
      continue;
    }
    const v = toFloat32(s, f);
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      problems.push(`${f}: holds ${v[bad]} (a diverged or damaged model)`);
      continue;
    }
    values.set(t, t.rank === 4 ? oihwToHwio(v, t.shape) : v);
  }
  if (problems.length) {
    const shown = problems.slice(0, 12).map((p) => `  ${p}`).join('\n');
    throw new Error(`${file} does not fit the model (${problems.length} problem${problems.length > 1 ? 's' : ''}; nothing was loaded):\n${shown}${problems.length > 12 ? `\n  ... and ${problems.length - 12} more` : ''}`);
  }
  bumpWeightsVersion();
  for (const [t, v] of values) rt().write(t.buffer, v);
  return metadata;
}

/** Loads the bytes of a safetensors file into the module (loadStateDict); returns its metadata. */
export function loadWeights(module: Module, bytes: Uint8Array | ArrayBuffer, name = 'weights'): Record<string, string> {
  return loadStateDict(module, parseSafetensors(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), name), name);
}
