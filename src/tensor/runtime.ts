/**
 * The WebGPU runtime: device, pipeline cache, dispatch batching, uniforms, readback, errors.
 *
 * - Pipelines are cached by kernel + entry + override constants (the variant), never by shape:
 *   shapes travel in uniforms, so a model compiles a few dozen pipelines once.
 * - Dispatches are recorded into one command encoder / compute pass and submitted every
 *   `flushEvery` dispatches or when something must be read back. Reading is the only await.
 * - Each dispatch's uniforms get a 256-byte slot in a per-batch arena that is uploaded with one
 *   writeBuffer right before the batch's submit (queue order makes reuse across batches safe).
 * - Binding convention of every kernel: @group(0) @binding(0) = uniforms (when the kernel has
 *   any), @binding(1..n) = the storage buffers in the order given.
 */
import { WGSL } from '../kernels.generated.js';
import { BufferPool, type PoolStats } from './pool.js';
import type { Uniforms } from './uniforms.js';

/** `null` leaves that binding number unused (an entry point that does not use it). */
export type BufferBinding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number } | null;

export interface DispatchSpec {
  /** kernel file name in kernels/ without `.wgsl` */
  kernel: string;
  /** entry point, default `main` */
  entry?: string;
  /** WGSL `override` constants: each distinct set is a separate pipeline (a variant) */
  constants?: Record<string, number>;
  uniforms?: Uniforms;
  buffers: BufferBinding[];
  /** workgroup counts; a 1-D count above the device limit is folded into 2-D (kernels rebuild
   * the flat index as wid.x + wid.y * nwg.x) */
  workgroups: number | readonly [number, number?, number?];
}

const UNIFORM_SLOT = 256;

export class Runtime {
  readonly device: GPUDevice;
  readonly adapterName: string;
  readonly limits: GPUSupportedLimits;
  readonly features: ReadonlySet<string>;
  readonly pool: BufferPool;
  /** dispatches per submit */
  flushEvery = 32;

  private pipelines = new Map<string, GPUComputePipeline>();
  private modules = new Map<string, GPUShaderModule>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batchKernels: string[] = [];
  /** buffers bound by the commands recorded since the last submit (see write()) */
  private batchBuffers = new Set<GPUBuffer>();
  private uniformCpu: Uint8Array;
  private uniformGpu: GPUBuffer;
  private uniformUsed = 0;
  private staging: BufferPool;
  private error: Error | null = null;
  private destroyed = false;
  /** counts for tests and benchmarks */
  readonly counters = { dispatches: 0, submits: 0, pipelines: 0, reads: 0 };
  /** per-kernel GPU time when profiling (see startProfile) */
  private prof: { names: string[]; querySet: GPUQuerySet | null; pending: Promise<void>[]; totals: Map<string, { count: number; ms: number }> } | null = null;

  /**
   * Subgroup size when the device has the 'subgroups' feature and the adapter reports one fixed
   * size (lavapipe: 8 = its SIMD width), else 0. Kernel variants built on subgroup broadcasts
   * check it.
   */
  readonly subgroupSize: number;

  /** `owner` is kept alive for the runtime's lifetime (Dawn's Node `create()` object must be). */
  constructor(device: GPUDevice, adapterName: string, public owner?: unknown, adapterInfo?: GPUAdapterInfo) {
    this.device = device;
    this.adapterName = adapterName;
    const info = adapterInfo as (GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number }) | undefined;
    this.subgroupSize =
      device.features.has('subgroups' as GPUFeatureName) && info?.subgroupMinSize && info.subgroupMinSize === info.subgroupMaxSize ? info.subgroupMinSize : 0;
    this.limits = device.limits;
    this.features = new Set(device.features as unknown as Iterable<string>);
    this.pool = new BufferPool(
      device,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      'tensor',
    );
    this.staging = new BufferPool(device, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'staging');
    this.uniformCpu = new Uint8Array(this.flushEvery * UNIFORM_SLOT);
    this.uniformGpu = device.createBuffer({
      size: this.uniformCpu.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'uniform-arena',
    });
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.error ??= new Error(`WebGPU error near kernel(s) [${this.batchKernels.slice(-4).join(', ')}]: ${e.message}`);
    });
    void device.lost.then((info) => {
      if (!this.destroyed) this.error ??= new Error(`WebGPU device lost (${info.reason}): ${info.message}`);
    });
  }

  /** Throws the first asynchronous WebGPU error seen so far (validation, OOM, device loss). */
  checkError(): void {
    if (this.error) {
      const e = this.error;
      this.error = null;
      throw e;
    }
  }

  private pipeline(kernel: string, entry: string, constants?: Record<string, number>): GPUComputePipeline {
    const ckey = constants ? Object.keys(constants).sort().map((k) => `${k}=${constants[k]}`).join(',') : '';
    const key = `${kernel}:${entry}:${ckey}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    let module = this.modules.get(kernel);
    if (!module) {
      const code = WGSL[kernel];
      if (code === undefined) throw new Error(`unknown kernel '${kernel}' (no kernels/${kernel}.wgsl)`);
      module = this.device.createShaderModule({ code, label: kernel });
      this.modules.set(kernel, module);
    }
    this.device.pushErrorScope('validation');
    p = this.device.createComputePipeline({
      layout: 'auto',
      label: key,
      compute: { module, entryPoint: entry, constants },
    });
    void this.device.popErrorScope().then((err) => {
      if (err) this.error ??= new Error(`kernel '${key}' failed to compile: ${err.message}`);
    });
    this.pipelines.set(key, p);
    this.counters.pipelines++;
    return p;
  }

  dispatch(spec: DispatchSpec): void {
    if (this.destroyed) throw new Error('runtime was destroyed');
    this.checkError();
    const entry = spec.entry ?? 'main';
    const pipeline = this.pipeline(spec.kernel, entry, spec.constants);
    const entries: GPUBindGroupEntry[] = [];
    if (spec.uniforms) {
      const bytes = spec.uniforms.bytes();
      if (bytes.byteLength > UNIFORM_SLOT) throw new Error(`${spec.kernel}: uniforms exceed ${UNIFORM_SLOT} bytes`);
      if (this.uniformUsed + UNIFORM_SLOT > this.uniformCpu.byteLength) this.flush();
      this.uniformCpu.fill(0, this.uniformUsed, this.uniformUsed + UNIFORM_SLOT);
      this.uniformCpu.set(bytes, this.uniformUsed);
      // bind the whole slot: the struct may be larger than the fields a caller filled
      entries.push({ binding: 0, resource: { buffer: this.uniformGpu, offset: this.uniformUsed, size: UNIFORM_SLOT } });
      this.uniformUsed += UNIFORM_SLOT;
    }
    spec.buffers.forEach((b, i) => {
      if (!b) return;
      entries.push({ binding: i + 1, resource: 'buffer' in b ? b : { buffer: b } });
      this.batchBuffers.add('buffer' in b ? b.buffer : b);
    });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label: spec.kernel });
    let [x, y, z] = typeof spec.workgroups === 'number' ? [spec.workgroups, 1, 1] : [spec.workgroups[0], spec.workgroups[1] ?? 1, spec.workgroups[2] ?? 1];
    if (x === 0 || y === 0 || z === 0) return;
    const maxDim = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxDim) {
      if (y !== 1) throw new Error(`${spec.kernel}: dispatch ${x}x${y} exceeds the device limit ${maxDim}`);
      y = Math.ceil(x / maxDim);
      x = Math.ceil(x / y);
    }
    if (this.prof) {
      // one pass per dispatch, with GPU timestamps at its start and end
      this.endPass();
      this.encoder ??= this.device.createCommandEncoder();
      this.prof.querySet ??= this.device.createQuerySet({ type: 'timestamp', count: 2 * this.flushEvery });
      const k = this.prof.names.length;
      this.prof.names.push(spec.entry ? `${spec.kernel}.${spec.entry}` : spec.kernel);
      this.pass = this.encoder.beginComputePass({ timestampWrites: { querySet: this.prof.querySet, beginningOfPassWriteIndex: 2 * k, endOfPassWriteIndex: 2 * k + 1 } });
    } else if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(x, y, z);
    this.batchKernels.push(spec.kernel);
    this.counters.dispatches++;
    if (this.batchKernels.length >= this.flushEvery) this.flush();
  }

  /** Records a buffer-to-buffer copy (ends the current compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.batchKernels.push('copy');
    this.batchBuffers.add(src).add(dst);
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.endPass();
    const afterSubmit = this.prof && this.prof.names.length && this.encoder ? this.resolveProfile() : null;
    if (this.encoder) {
      if (this.uniformUsed > 0) this.device.queue.writeBuffer(this.uniformGpu, 0, this.uniformCpu, 0, this.uniformUsed);
      this.device.queue.submit([this.encoder.finish()]);
      this.counters.submits++;
      this.encoder = null;
    }
    afterSubmit?.();
    this.uniformUsed = 0;
    this.batchKernels.length = 0;
    this.batchBuffers.clear();
    this.pool.afterSubmit();
  }

  /**
   * Starts per-kernel GPU timing (timestamp queries; needs the 'timestamp-query' feature).
   * Every dispatch then runs in its own pass, which costs a little; use for breakdowns only.
   */
  startProfile(): void {
    if (!this.features.has('timestamp-query')) throw new Error(`profiling needs the 'timestamp-query' feature, which ${this.adapterName} lacks`);
    this.flush();
    this.prof = { names: [], querySet: null, pending: [], totals: new Map() };
  }

  /** Stops profiling; returns kernel → { count, ms } sorted by time. */
  async stopProfile(): Promise<Map<string, { count: number; ms: number }>> {
    if (!this.prof) throw new Error('stopProfile() without startProfile()');
    this.flush();
    const prof = this.prof;
    this.prof = null;
    await Promise.all(prof.pending);
    prof.querySet?.destroy();
    return new Map([...prof.totals].sort((a, b) => b[1].ms - a[1].ms));
  }

  /** Records the timestamp resolve; returns what must run after the submit (the map). */
  private resolveProfile(): () => void {
    const prof = this.prof!;
    const n = prof.names.length;
    const bytes = 16 * n;
    const resolve = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const stage = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.encoder!.resolveQuerySet(prof.querySet!, 0, 2 * n, resolve, 0);
    this.encoder!.copyBufferToBuffer(resolve, 0, stage, 0, bytes);
    const names = prof.names.splice(0);
    // the query set is reused by the next batch only after this batch's submit (queue order)
    return () => prof.pending.push(
      stage.mapAsync(GPUMapMode.READ).then(() => {
        const t = new BigInt64Array(stage.getMappedRange());
        names.forEach((name, k) => {
          const e = prof.totals.get(name) ?? { count: 0, ms: 0 };
          e.count++;
          e.ms += Number(t[2 * k + 1]! - t[2 * k]!) / 1e6;
          prof.totals.set(name, e);
        });
        stage.unmap();
        stage.destroy();
        resolve.destroy();
      }),
    );
  }

  /**
   * Uploads bytes into a buffer. queue.writeBuffer runs before the commands recorded but not yet
   * submitted, so when one of those uses this buffer (e.g. a fill of a freshly created parameter
   * that a checkpoint now overwrites) they are submitted first, keeping program order.
   */
  write(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    if (this.batchBuffers.has(buffer)) this.flush();
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copies `bytes` of `buffer` into `into` (preallocated); the only await of the engine. */
  async read(buffer: GPUBuffer, bytes: number, into: ArrayBufferView, srcOffset = 0): Promise<void> {
    this.checkError();
    if (into.byteLength < bytes) throw new Error(`read: destination holds ${into.byteLength} bytes, need ${bytes}`);
    if (bytes === 0) return;
    const stage = this.staging.acquire(bytes);
    this.copy(buffer, srcOffset, stage, 0, Math.ceil(bytes / 4) * 4);
    this.flush();
    this.counters.reads++;
    try {
      await stage.mapAsync(GPUMapMode.READ, 0, Math.ceil(bytes / 4) * 4);
    } catch (e) {
      this.checkError();
      throw e;
    }
    this.checkError();
    new Uint8Array(into.buffer, into.byteOffset, bytes).set(new Uint8Array(stage.getMappedRange(0, Math.ceil(bytes / 4) * 4), 0, bytes));
    stage.unmap();
    this.staging.release(stage);
    this.staging.afterSubmit();
  }

  /** Waits until the GPU has finished all submitted work (benchmarks, shutdown). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.checkError();
  }

  stats(): PoolStats {
    return this.pool.getStats();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.flush();
    this.destroyed = true;
    this.pool.destroyAll();
    this.staging.destroyAll();
    this.uniformGpu.destroy();
    this.pipelines.clear();
    this.modules.clear();
    this.device.destroy();
    this.owner = undefined;
  }
}
