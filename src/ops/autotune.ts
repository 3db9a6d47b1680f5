/**
 * Short autotune on first use: for each op family (conv2d with its gradients, matmul) time the
 * kernel families the adapter can run on a representative workload and let 'auto' use the
 * fastest from then on (src/ops/tuning.ts). Families:
 *   - 'subgroup': the subgroup-broadcast kernels (only where a subgroup is exactly the 8-lane
 *     workgroup, i.e. lavapipe), with the register-tiled kernels where a shape does not qualify;
 *   - 'fast': the register-tiled vec4 kernels (workgroup-uniform gathered operand, per-invocation
 *     loads), the lavapipe design without subgroups;
 *   - 'tiled': shared-memory tiling (64x64 output blocks staged through workgroup memory), what a
 *     real GPU wants;
 * and for the memory-bound kernels (batch norm, resizing, elementwise; src/ops/memory-plan.ts)
 * the invocation layouts 'lanes' (lavapipe) and 'coalesced' (a GPU).
 * The choice is cached per adapter, kernel source and workload (a hash of the WGSL and of the
 * workload code) in a JSON file under the user's cache folder (Node; `cacheFile: null` or a
 * browser: memory only), so only the first run on a machine pays the ~1-3 s of measurements.
 * Numerics differ between families only by float rounding; a forced variant (setConvVariant /
 * setMatmulVariant / setMemoryVariant, the tests) ignores the tuning.
 */
import { rt } from '../tensor/device.js';
import type { Tensor } from '../tensor/tensor.js';
import { rand } from './creation.js';
import { WGSL } from '../kernels.generated.js';
import { conv2dRaw } from './conv.js';
import { gemm } from './matmul.js';
import { batchNorm2d } from './norm.js';
import { upsample2x } from './resize.js';
import { mul } from './elementwise.js';
import { sum } from './reduce.js';
import { backward } from '../autograd/tape.js';
import { scope } from '../tensor/scope.js';
import { setTunedVariant, type TuneFamily } from './tuning.js';

export interface AutotuneOptions {
  /** JSON cache (default `$XDG_CACHE_HOME/refine-gpu/autotune.json`, `~/.cache/...`); null: no file */
  cacheFile?: string | null;
  /** measure again even when the cache has this adapter */
  force?: boolean;
  /** timed repetitions per candidate (median taken; default 3) */
  reps?: number;
}

export interface TuneResult {
  choice: string;
  /** median milliseconds of one workload per candidate */
  ms: Record<string, number>;
}

export type AutotuneResult = Record<TuneFamily, TuneResult> & { adapter: string; cached: boolean };

const FAMILY_KERNELS: Record<TuneFamily, string[]> = {
  conv: ['conv2d_fwd_sg', 'conv2d_dgrad_sg', 'conv2d_wgrad_sg', 'conv2d_fwd_fast', 'conv2d_dgrad_fast', 'conv2d_wgrad_fast', 'conv2d_tiled', 'copy'],
  matmul: ['matmul', 'matmul_sg', 'matmul_tiled'],
  memory: ['batchnorm', 'resize', 'elementwise'],
};

const FAMILIES: TuneFamily[] = ['conv', 'matmul', 'memory'];

function hash(s: string): string {
  // FNV-1a, 32 bit: enough to notice that a kernel changed
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

function cacheKey(): string {
  // the kernels and the workloads they are timed on: a change to either measures again
  const src = Object.values(FAMILY_KERNELS).flat().map((k) => WGSL[k] ?? '').join('\n') + workload.toString();
  return `${rt().adapterName} | kernels ${hash(src)}`;
}

function candidates(f: TuneFamily): string[] {
  if (f === 'memory') return ['lanes', 'coalesced'];
  const sg = rt().subgroupSize === 8;
  return [...(sg ? ['subgroup'] : []), 'fast', 'tiled'];
}

/**
 * The representative workloads: ResNet-like 3x3 convs (stride 1 and 2, forward and both
 * gradients), square/transposed GEMMs, and a UNet decoder's memory-bound passes (a bilinear
 * upsample and training batch norm with ReLU, forward and backward), small enough for lavapipe
 * (~0.1-0.3 s a run there).
 */
function workload(f: TuneFamily): { run: () => void; dispose: () => void } {
  const ts: Tensor[] = [];
  const t = (shape: number[], seed: number) => {
    const x = rand(shape, seed, -0.1, 0.1);
    ts.push(x);
    return x;
  };
  if (f === 'conv') {
    const x = t([8, 16, 16, 64], 1);
    const w1 = t([3, 3, 64, 64], 2);
    const dy1 = t([8, 16, 16, 64], 3);
    const w2 = t([3, 3, 64, 128], 4);
    const dy2 = t([8, 8, 8, 128], 5);
    const s1 = { stride: 1, padding: 1 };
    const s2 = { stride: 2, padding: 1 };
    return {
      run: () => {
        for (const r of [
          conv2dRaw.forward(x, w1, null, s1), conv2dRaw.dx(dy1, x, w1, s1), conv2dRaw.dw(dy1, x, w1, s1),
          conv2dRaw.forward(x, w2, null, s2), conv2dRaw.dx(dy2, x, w2, s2), conv2dRaw.dw(dy2, x, w2, s2),
        ]) r.dispose();
      },
      dispose: () => ts.forEach((x) => x.dispose()),
    };
  }
  if (f === 'memory') {
    // a UNet decoder level (upsample, then batch norm + ReLU on 16 images of 28×28×32): large
    // enough that the layouts' reduction splits differ (a smaller one favoured 'coalesced' on
    // lavapipe, where the training steps do not)
    const x = t([16, 14, 14, 32], 8);
    x.requiresGrad = true;
    const g = t([32], 9);
    const b = t([32], 10);
    const m = t([32], 11);
    const v = rand([32], 12, 0.5, 1.5);
    ts.push(v);
    const w = t([16, 28, 28, 32], 13);
    return {
      run: () => {
        scope(() => backward(sum(mul(batchNorm2d(upsample2x(x), g, b, m, v, { training: true, relu: true }), w))));
        x.grad?.dispose();
        x.grad = null;
      },
      dispose: () => ts.forEach((x) => x.dispose()),
    };
  }
  const a = t([256, 512], 6);
  const b = t([512, 256], 7);
  return {
    run: () => {
      for (const r of [gemm({ a, b, transA: false, transB: false }), gemm({ a, b: a, transA: false, transB: true }), gemm({ a: b, b, transA: true, transB: false })]) r.dispose();
    },
    dispose: () => ts.forEach((x) => x.dispose()),
  };
}

async function timeIt(run: () => void, reps: number): Promise<number> {
  run(); // warm-up: pipeline compilation
  await rt().sync();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    run();
    await rt().sync();
    ms.push(performance.now() - t0);
  }
  ms.sort((p, q) => p - q);
  return ms[Math.floor(ms.length / 2)]!;
}

/** Node built-ins, imported lazily and opaquely so that browser bundles of the library skip them. */
async function nodeModule<T>(name: string): Promise<T> {
  const spec = `node:${name}`;
  return (await import(/* @vite-ignore */ spec)) as T;
}

async function defaultCacheFile(): Promise<string | null> {
  if (typeof process === 'undefined' || !process.env) return null;
  const { join } = await nodeModule<typeof import('node:path')>('path');
  const { homedir } = await nodeModule<typeof import('node:os')>('os');
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'refine-gpu', 'autotune.json');
}

async function readCache(file: string): Promise<Record<string, Record<TuneFamily, TuneResult>>> {
  try {
    const { readFile } = await nodeModule<typeof import('node:fs/promises')>('fs/promises');
    const j = JSON.parse(await readFile(file, 'utf8')) as unknown;
    return j && typeof j === 'object' ? (j as Record<string, Record<TuneFamily, TuneResult>>) : {};
  } catch {
    return {}; // missing or unreadable: measure
  }
}

async function writeCache(file: string, data: Record<string, Record<TuneFamily, TuneResult>>): Promise<void> {
  try {
    const { mkdir, writeFile, rename } = await nodeModule<typeof import('node:fs/promises')>('fs/promises');
    const { dirname } = await nodeModule<typeof import('node:path')>('path');
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(data, null, 1));
    await rename(tmp, file);
  } catch {
    // a read-only home is not an error: the choice still holds for this process
  }
}

/**
 * Measures (or loads from the cache) the fastest kernel family per op family on this adapter and
 * makes it the 'auto' choice. Call once after `init()`; `REFINE_AUTOTUNE=0` skips it (the ops'
 * built-in heuristics stay).
 */
export async function autotune(opts: AutotuneOptions = {}): Promise<AutotuneResult | null> {
  if (typeof process !== 'undefined' && process.env?.REFINE_AUTOTUNE === '0') return null;
  const file = opts.cacheFile === undefined ? await defaultCacheFile() : opts.cacheFile;
  const key = cacheKey();
  const cache = file ? await readCache(file) : {};
  const hit = cache[key];
  if (hit && !opts.force && FAMILIES.every((f) => hit[f] && candidates(f).includes(hit[f].choice))) {
    for (const f of FAMILIES) setTunedVariant(f, hit[f].choice);
    return { ...hit, adapter: rt().adapterName, cached: true };
  }
  const out = {} as Record<TuneFamily, TuneResult>;
  for (const f of FAMILIES) {
    const w = workload(f);
    const ms: Record<string, number> = {};
    try {
      for (const c of candidates(f)) {
        setTunedVariant(f, c);
        ms[c] = await timeIt(w.run, opts.reps ?? 3);
      }
    } finally {
      w.dispose();
      setTunedVariant(f, undefined);
    }
    const choice = Object.entries(ms).sort((p, q) => p[1] - q[1])[0]![0];
    setTunedVariant(f, choice);
    out[f] = { choice, ms };
  }
  if (file) await writeCache(file, { ...cache, [key]: out });
  return { ...out, adapter: rt().adapterName, cached: false };
}

/** One line for the logs: the family chosen per op family and the measured times. */
export function describeTuning(r: AutotuneResult | null): string {
  if (!r) return 'kernels: autotune off (REFINE_AUTOTUNE=0), built-in heuristics';
  const fam = (f: TuneFamily) => `${f} -> ${r[f].choice} (${Object.entries(r[f].ms).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(', ')})`;
  return `kernels: ${FAMILIES.map(fam).join(', ')}${r.cached ? ' [cached]' : ''}`;
}
