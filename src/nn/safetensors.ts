/**
 * The safetensors format (8-byte little-endian header length, a JSON header mapping names to
 * dtype/shape/byte ranges, then the raw little-endian data). Hand-written: the format is a
 * dozen lines, and the npm packages for it are unmaintained. Files are written atomically
 * (temporary file + rename) so that a crash never leaves a truncated checkpoint.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

export type SafeDType = 'F32' | 'I32' | 'I64' | 'U8';

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: Uint8Array;
}

const BYTES: Record<SafeDType, number> = { F32: 4, I32: 4, I64: 8, U8: 1 };

export function f32Tensor(shape: number[], data: Float32Array): SafeTensor {
  return { dtype: 'F32', shape, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export function writeSafetensors(file: string, tensors: Map<string, SafeTensor>, metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((p, d) => p * d, 1);
    if (t.data.byteLength !== n * BYTES[t.dtype]) throw new Error(`safetensors: ${name} has ${t.data.byteLength} bytes for shape [${t.shape}] ${t.dtype}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // align the data section to 8 bytes
  const head = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.length));
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, head);
    for (const t of tensors.values()) writeSync(fd, t.data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function readSafetensors(file: string): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const buf = readFileSync(file);
  if (buf.length < 8) throw new Error(`${file}: not a safetensors file (too short)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n > buf.length - 8) throw new Error(`${file}: truncated safetensors header (${n} bytes announced)`);
  let header: Record<string, { dtype: SafeDType; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch (e) {
    throw new Error(`${file}: corrupt safetensors header (${(e as Error).message})`);
  }
  const data = buf.subarray(8 + n);
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype: SafeDType; shape: number[]; data_offsets: [number, number] };
    if (!(e.dtype in BYTES)) throw new Error(`${file}: ${name} has unsupported dtype ${e.dtype}`);
    const [a, b] = e.data_offsets;
    const count = e.shape.reduce((p, d) => p * d, 1);
    if (b > data.length || b - a !== count * BYTES[e.dtype]) throw new Error(`${file}: ${name}: byte range [${a}, ${b}) does not fit shape [${e.shape}] ${e.dtype} or the file is truncated`);
    // copy into an aligned buffer so typed views are valid
    tensors.set(name, { dtype: e.dtype, shape: e.shape, data: new Uint8Array(data.subarray(a, b)) });
  }
  return { tensors, metadata };
}
