/**
 * The safetensors format (8-byte little-endian header length, a JSON header mapping names to
 * dtype/shape/byte ranges, then the raw little-endian data), on bytes in memory: no file access,
 * so it runs in a browser too (safetensors.ts reads and writes files). Hand-written: the format
 * is a dozen lines, and the npm packages for it are unmaintained.
 */

export type SafeDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I32' | 'I64' | 'U8';

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: Uint8Array;
}

const BYTES: Record<SafeDType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4, I64: 8, U8: 1 };

/** IEEE half → float. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** A floating-point tensor's values as float32 (F16, BF16 and F64 converted); integer dtypes are refused. */
export function toFloat32(t: SafeTensor, name = 'tensor'): Float32Array {
  const d = t.data;
  const n = d.byteLength / BYTES[t.dtype];
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  switch (t.dtype) {
    case 'F32':
      return d.byteOffset % 4 === 0 ? new Float32Array(d.buffer, d.byteOffset, n) : Float32Array.from({ length: n }, (_, i) => view.getFloat32(4 * i, true));
    case 'F64':
      return Float32Array.from({ length: n }, (_, i) => view.getFloat64(8 * i, true));
    case 'F16':
      return Float32Array.from({ length: n }, (_, i) => halfToFloat(view.getUint16(2 * i, true)));
    case 'BF16': {
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    default:
      throw new Error(`${name} is ${t.dtype}, not a floating-point tensor`);
  }
}

export function f32Tensor(shape: number[], data: Float32Array): SafeTensor {
  return { dtype: 'F32', shape, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** A parsed safetensors file. */
export interface Safetensors {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** The bytes of a safetensors file holding `tensors` (in order) and `metadata`. */
export function serializeSafetensors(tensors: Map<string, SafeTensor>, metadata: Record<string, string> = {}): Uint8Array {
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
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of tensors.values()) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  return out;
}

/**
 * Parses and fully validates the bytes of a safetensors file (`name` labels the errors): a JSON-object header whose entries each have a
 * known dtype, a shape of non-negative integers and integer data_offsets; byte ranges that match
 * their shapes, do not overlap and cover the data section exactly (no holes, nothing after it).
 * Every problem names the file and the tensor.
 */
export function parseSafetensors(buf: Uint8Array, file = 'safetensors'): Safetensors {
  if (buf.length < 8) throw new Error(`${file}: not a safetensors file (too short)`);
  const n = Number(new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getBigUint64(0, true));
  if (n > buf.length - 8) throw new Error(`${file}: not a safetensors file or truncated (header of ${n} bytes announced, ${buf.length - 8} present)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n)));
  } catch (e) {
    throw new Error(`${file}: corrupt safetensors header (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new Error(`${file}: corrupt safetensors header (not a JSON object)`);
  const data = buf.subarray(8 + n);
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) throw new Error(`${file}: __metadata__ must map names to strings`);
      metadata = v as Record<string, string>;
      continue;
    }
    if (v === null || typeof v !== 'object') throw new Error(`${file}: ${name}: header entry is not an object`);
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== 'string' || !(e.dtype in BYTES)) throw new Error(`${file}: ${name}: ${e.dtype === undefined ? 'no dtype' : `unsupported dtype ${JSON.stringify(e.dtype)}`} (supported: ${Object.keys(BYTES).join(', ')})`);
    if (!Array.isArray(e.shape) || !e.shape.every(isInt)) throw new Error(`${file}: ${name}: ${e.shape === undefined ? 'no shape' : `bad shape ${JSON.stringify(e.shape)}`}`);
    if (!Array.isArray(e.data_offsets) || e.data_offsets.length !== 2 || !e.data_offsets.every(isInt)) throw new Error(`${file}: ${name}: ${e.data_offsets === undefined ? 'no data_offsets' : `bad data_offsets ${JSON.stringify(e.data_offsets)}`}`);
    const dtype = e.dtype as SafeDType;
    const shape = e.shape as number[];
    const [a, b] = e.data_offsets as [number, number];
    const count = shape.reduce((p, d) => p * d, 1);
    if (b < a || b - a !== count * BYTES[dtype]) throw new Error(`${file}: ${name}: byte range [${a}, ${b}) does not hold shape [${shape}] ${dtype} (${count * BYTES[dtype]} bytes)`);
    if (b > data.length) throw new Error(`${file}: ${name}: byte range [${a}, ${b}) ends past the data (${data.length} bytes): truncated file?`);
    ranges.push([a, b, name]);
    // copy into an aligned buffer so typed views are valid
    tensors.set(name, { dtype, shape, data: new Uint8Array(data.subarray(a, b)) });
  }
  ranges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let end = 0;
  for (const [a, b, name] of ranges) {
    if (a < end) throw new Error(`${file}: ${name}: byte range [${a}, ${b}) overlaps another tensor's`);
    if (a > end) throw new Error(`${file}: ${name}: bytes [${end}, ${a}) before it belong to no tensor`);
    end = b;
  }
  if (end !== data.length) throw new Error(`${file}: ${data.length - end} bytes after the last tensor belong to no tensor`);
  return { tensors, metadata };
}
