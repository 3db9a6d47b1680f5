/**
 * GPU tensors: contiguous, row-major, f32 or i32. A Tensor is a handle on a ref-counted Storage
 * (a pooled GPUBuffer); reshape views share the storage. Activations are NHWC, conv weights
 * [KH, KW, Cin, Cout] (see README, "Layout").
 */
import { rt } from './device.js';
import { track } from './scope.js';
import type { Node } from '../autograd/tape.js';

export type DType = 'f32' | 'i32';
export type Shape = readonly number[];

export class Storage {
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    readonly bytes: number,
  ) {}
  retain(): void {
    if (this.refs <= 0) throw new Error('retain of a freed tensor storage');
    this.refs++;
  }
  release(): void {
    if (this.refs <= 0) throw new Error('double free of a tensor storage');
    if (--this.refs === 0) rt().pool.release(this.buffer);
  }
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(shape: Shape, what = 'shape'): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what} [${shape.join(', ')}] has an invalid dimension ${d}`);
  }
}

let nextId = 0;

export class Tensor {
  readonly id = nextId++;
  readonly shape: Shape;
  readonly size: number;
  requiresGrad = false;
  /** accumulated gradient of a leaf tensor (kept out of scopes) */
  grad: Tensor | null = null;
  /** the autograd node that produced this tensor, if recorded */
  node: Node | null = null;
  name?: string;
  private disposed = false;

  constructor(
    shape: Shape,
    readonly dtype: DType,
    readonly storage: Storage,
  ) {
    checkShape(shape);
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    track(this);
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** The GPU buffer; valid while any handle or saved reference holds the storage. */
  get buffer(): GPUBuffer {
    if (this.storage.refs <= 0) throw new Error(`tensor #${this.id}${this.name ? ` (${this.name})` : ''} [${this.shape}] was disposed`);
    return this.storage.buffer;
  }

  /** Releases this handle's reference (idempotent). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.storage.release();
  }

  /** Reads the data back into a new typed array. */
  async read(): Promise<Float32Array | Int32Array> {
    const out = this.dtype === 'f32' ? new Float32Array(this.size) : new Int32Array(this.size);
    await rt().read(this.buffer, this.size * 4, out);
    return out;
  }

  /** Reads into a preallocated array (no allocation on the hot path). */
  async readInto(out: Float32Array | Int32Array): Promise<void> {
    if (out.length < this.size) throw new Error(`readInto: array of ${out.length} for a tensor of ${this.size}`);
    await rt().read(this.buffer, this.size * 4, out);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() on a tensor of shape [${this.shape}]`);
    return (await this.read())[0]!;
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}]${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

/** An uninitialised tensor backed by a pooled buffer. */
export function empty(shape: Shape, dtype: DType = 'f32'): Tensor {
  checkShape(shape);
  const bytes = Math.max(4, sizeOf(shape) * 4);
  checkBindingSize(shape, bytes);
  return new Tensor(shape, dtype, new Storage(rt().pool.acquire(bytes), bytes));
}

/**
 * Refuses a tensor larger than one storage binding of this adapter, at the op that asks for it
 * (every tensor is bound whole by some kernel, so it could never be used, and the WebGPU error
 * would surface later at an unrelated dispatch). The message names the limit and, for a batch,
 * the largest batch that fits.
 */
/** A tensor over the adapter's storage-binding limit; `maxBatch` is the largest first dimension that fits (0: none). */
export class BindingLimitError extends Error {
  constructor(
    message: string,
    readonly maxBatch: number,
  ) {
    super(message);
  }
}

function checkBindingSize(shape: Shape, bytes: number): void {
  const limit = rt().limits.maxStorageBufferBindingSize;
  if (bytes <= limit) return;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const perItem = shape.length > 1 && shape[0]! > 1 ? bytes / shape[0]! : 0;
  const fit = perItem ? Math.floor(limit / perItem) : 0;
  throw new BindingLimitError(
    `tensor [${shape}] needs ${mib(bytes)}, over this adapter's ${mib(limit)} limit for one storage buffer binding (maxStorageBufferBindingSize)` +
      (fit >= 1 ? `: use a batch of at most ${fit}` : ''),
    fit,
  );
}

/** A tensor from host data (copied). */
export function tensor(data: ArrayLike<number>, shape?: Shape, dtype?: DType): Tensor {
  const dt: DType = dtype ?? (data instanceof Int32Array ? 'i32' : 'f32');
  const shp = shape ?? [data.length];
  if (sizeOf(shp) !== data.length) throw new Error(`tensor: ${data.length} values do not fill shape [${shp}]`);
  const arr = dt === 'f32' ? (data instanceof Float32Array ? data : Float32Array.from(data)) : data instanceof Int32Array ? data : Int32Array.from(data);
  const t = empty(shp, dt);
  if (arr.length > 0) rt().write(t.buffer, arr);
  return t;
}

/** A new handle on the same storage with another shape (no copy). */
export function view(t: Tensor, shape: Shape): Tensor {
  if (sizeOf(shape) !== t.size) throw new Error(`cannot view [${t.shape}] as [${shape}]`);
  t.storage.retain();
  return new Tensor(shape, t.dtype, t.storage);
}
