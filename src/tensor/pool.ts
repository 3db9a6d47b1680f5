/**
 * GPU buffer pool with size buckets.
 *
 * Sizes are rounded up to a bucket (powers of two split into 4 steps, so at most 25% waste) so
 * that tensors whose shapes vary slightly still reuse buffers (an exact-size pool does not).
 * A released buffer is not reusable at once: commands recorded but not yet submitted may still
 * read it, and a queue.writeBuffer() into it would run *before* them. So releases go to a pending
 * list that the runtime moves to the free lists right after each submit.
 */
export interface PoolStats {
  /** bytes held by live tensors (bucket sizes) */
  bytesInUse: number;
  /** bytes of every GPU buffer the pool owns, free or not */
  bytesAllocated: number;
  buffersAllocated: number;
  /** highest bytesInUse seen since the last resetPeak() */
  peakBytesInUse: number;
}

const MIN_BUCKET = 256;

export function bucketSize(bytes: number): number {
  if (bytes <= MIN_BUCKET) return MIN_BUCKET;
  const p = 2 ** Math.floor(Math.log2(bytes - 1));
  const step = p / 4;
  return Math.ceil(bytes / step) * step;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private sizes = new WeakMap<GPUBuffer, number>();
  private stats: PoolStats = { bytesInUse: 0, bytesAllocated: 0, buffersAllocated: 0, peakBytesInUse: 0 };

  constructor(
    private device: GPUDevice,
    private usage: GPUBufferUsageFlags,
    private label: string,
  ) {}

  acquire(bytes: number): GPUBuffer {
    // a bucket may not round a buffer that fits one storage binding past the binding limit
    const limit = this.device.limits.maxStorageBufferBindingSize;
    const size = bytes <= limit && bucketSize(bytes) > limit ? Math.ceil(bytes / 256) * 256 : bucketSize(bytes);
    let buf = this.free.get(size)?.pop();
    if (!buf) {
      buf = this.device.createBuffer({ size, usage: this.usage, label: `${this.label}[${size}]` });
      this.sizes.set(buf, size);
      this.stats.bytesAllocated += size;
      this.stats.buffersAllocated++;
    }
    this.stats.bytesInUse += size;
    if (this.stats.bytesInUse > this.stats.peakBytesInUse) this.stats.peakBytesInUse = this.stats.bytesInUse;
    return buf;
  }

  /** Returns a buffer; it becomes reusable after the next submit (see class comment). */
  release(buf: GPUBuffer): void {
    const size = this.sizes.get(buf);
    if (size === undefined) throw new Error('BufferPool.release: buffer does not belong to this pool');
    this.stats.bytesInUse -= size;
    this.pending.push(buf);
  }

  /** Called by the runtime after a submit: pending buffers may now be handed out again. */
  afterSubmit(): void {
    for (const buf of this.pending) {
      const size = this.sizes.get(buf)!;
      let list = this.free.get(size);
      if (!list) this.free.set(size, (list = []));
      list.push(buf);
    }
    this.pending.length = 0;
  }

  /** Destroys every free buffer (live ones stay). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const buf of list) {
        this.stats.bytesAllocated -= this.sizes.get(buf)!;
        this.stats.buffersAllocated--;
        buf.destroy();
      }
    }
    this.free.clear();
  }

  getStats(): PoolStats {
    return { ...this.stats };
  }

  resetPeak(): void {
    this.stats.peakBytesInUse = this.stats.bytesInUse;
  }

  destroyAll(): void {
    this.afterSubmit();
    this.trim();
  }
}
