/** IDX files (MNIST / Fashion-MNIST), optionally gzipped, with checks that name the file. */
import { gunzipSync } from 'node:zlib';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export function parseIdx(buf: Uint8Array, file: string): IdxArray {
  let bytes = buf;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new Error(`${file}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  if (bytes.length < 4) throw new Error(`${file}: truncated (only ${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const type = (magic >> 8) & 0xff;
  const rank = magic & 0xff;
  if (magic >>> 16 !== 0 || type !== 0x08 || rank < 1 || rank > 4) {
    throw new Error(`${file}: wrong magic number 0x${magic.toString(16).padStart(8, '0')} (expected unsigned-byte IDX, 0x00000801..0x00000804)`);
  }
  const header = 4 + 4 * rank;
  if (bytes.length < header) throw new Error(`${file}: truncated header`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((p, d) => p * d, 1);
  if (bytes.length < header + count) throw new Error(`${file}: truncated data: ${bytes.length - header} bytes for dims [${dims}] (${count} expected)`);
  if (bytes.length > header + count) throw new Error(`${file}: ${bytes.length - header - count} unexpected trailing bytes`);
  // a plain Uint8Array copy: Node Buffers slice() as views, a trap for callers that copy with slice()
  return { dims, data: new Uint8Array(bytes.subarray(header, header + count)) };
}
