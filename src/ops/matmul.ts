/**
 * Batched matrix multiply, linear layers and the pairwise similarity matrix (kernels/matmul.wgsl).
 *
 * One GEMM entry `gemm()` computes C = alpha·op(A)·op(B) (+ bias) with transpose flags (no
 * transposed copies are ever made) and NumPy-broadcast batch dimensions. Kernel variants:
 *   - 'fast4' / 'fast8': vec4 register-blocked kernel (4x4 or 8x4 outputs per invocation); needs
 *     K % 4 == 0, plus M % 4 == 0 when A is transposed and N % 4 == 0 when B is not;
 *   - 'generic': scalar loads, any shape;
 *   - 'splitk': the fast (or generic) kernel with K split into slices summed by a deterministic
 *     second pass.
 * 'auto' (the default) picks fast8/fast4 when the shape allows and split-K when there are few
 * output blocks and a long K. `setMatmulVariant()` or the environment variable
 * REFINE_MATMUL_VARIANT force a variant (shapes a fast variant cannot take fall back to generic).
 */
import { rt } from '../tensor/device.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { Uniforms } from '../tensor/uniforms.js';
import { record } from '../autograd/tape.js';
import { assertF32, assertRank, broadcastShapes, broadcastStrides, groups } from './util.js';
import { reduceRaw, sumTo } from './reduce.js';

export type MatmulVariant = 'auto' | 'generic' | 'fast4' | 'fast8' | 'splitk';
const VARIANTS: readonly MatmulVariant[] = ['auto', 'generic', 'fast4', 'fast8', 'splitk'];

function envVariant(): MatmulVariant {
  const v = (typeof process !== 'undefined' ? process.env?.REFINE_MATMUL_VARIANT : undefined) ?? 'auto';
  if (!VARIANTS.includes(v as MatmulVariant)) throw new Error(`REFINE_MATMUL_VARIANT=${v}: expected one of ${VARIANTS.join(', ')}`);
  return v as MatmulVariant;
}

let variant: MatmulVariant = envVariant();

/** Forces a kernel variant for every matmul/linear/similarity (tests, benchmarks); returns the previous one. */
export function setMatmulVariant(v: MatmulVariant): MatmulVariant {
  if (!VARIANTS.includes(v)) throw new Error(`unknown matmul variant '${v}'`);
  const prev = variant;
  variant = v;
  return prev;
}

export function getMatmulVariant(): MatmulVariant {
  return variant;
}

/** Invocations per workgroup (SIMD lanes on lavapipe). */
const WG = 8;
const MAX_BATCH_RANK = 8;

interface GemmArgs {
  a: Tensor;
  b: Tensor;
  transA: boolean;
  transB: boolean;
  alpha?: number;
  bias?: Tensor | null;
  /** C = A·Aᵀ: compute the upper triangle only and mirror it (a === b, transB, no batch) */
  sym?: boolean;
}

/** Raw GEMM without autograd; returns a new tensor [...batch, M, N]. */
export function gemm({ a, b, transA, transB, alpha = 1, bias = null, sym = false }: GemmArgs): Tensor {
  const op = 'matmul';
  assertF32(a, op);
  assertF32(b, op);
  if (a.rank < 2 || b.rank < 2) throw new Error(`${op}: inputs must have rank >= 2, got [${a.shape}] and [${b.shape}]`);
  const ar = a.shape.length;
  const br = b.shape.length;
  const M = transA ? a.shape[ar - 1]! : a.shape[ar - 2]!;
  const K = transA ? a.shape[ar - 2]! : a.shape[ar - 1]!;
  const Kb = transB ? b.shape[br - 1]! : b.shape[br - 2]!;
  const N = transB ? b.shape[br - 2]! : b.shape[br - 1]!;
  if (K !== Kb) throw new Error(`${op}: inner dimensions differ: [${a.shape}]${transA ? 'ᵀ' : ''} · [${b.shape}]${transB ? 'ᵀ' : ''}`);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batch = broadcastShapes(aBatch, bBatch, op);
  if (batch.length > MAX_BATCH_RANK) throw new Error(`${op}: more than ${MAX_BATCH_RANK} batch dimensions`);
  const nb = batch.reduce((p, d) => p * d, 1);
  if (bias) {
    assertF32(bias, op);
    if (bias.size !== N) throw new Error(`${op}: bias of shape [${bias.shape}] for ${N} output columns`);
  }
  const out = empty([...batch, M, N]);
  if (out.size === 0) return out;
  if (K === 0) {
    // empty reduction: alpha·0 + bias
    const zero = empty([1, 1]);
    gemmDispatch({ a, b, M, N, K: 0, nb, batch, aBatch, bBatch, transA, transB, alpha, bias, sym: false, out, zeroSrc: zero });
    zero.dispose();
    return out;
  }
  gemmDispatch({ a, b, M, N, K, nb, batch, aBatch, bBatch, transA, transB, alpha, bias, sym, out });
  return out;
}

interface Plan {
  entry: 'main' | 'generic';
  r8: boolean;
  splits: number;
  kChunk: number;
}

function plan(M: number, N: number, K: number, nb: number, transA: boolean, transB: boolean, sym: boolean): Plan {
  const fastOk = K % 4 === 0 && (!transA || M % 4 === 0) && (transB || N % 4 === 0);
  const v = variant;
  const entry: Plan['entry'] = fastOk && v !== 'generic' ? 'main' : 'generic';
  // 8 rows per invocation when there are enough rows to fill a workgroup of them
  const r8 = entry === 'main' && (v === 'fast8' || ((v === 'auto' || v === 'splitk') && M >= 8));
  const rows = r8 ? 8 : 4;
  let blocks = Math.ceil(N / 4) * Math.ceil(M / (WG * rows)) * nb;
  if (sym) blocks = Math.ceil(blocks / 2);
  let splits = 1;
  if (v === 'splitk') splits = Math.max(1, Math.min(8, Math.floor(K / 8)));
  else if (v === 'auto' && blocks < 64 && K >= 1024) splits = Math.min(16, Math.ceil(64 / blocks), Math.floor(K / 256));
  splits = Math.max(1, splits);
  let kChunk = Math.ceil(K / splits);
  if (entry === 'main') kChunk = Math.ceil(kChunk / 4) * 4;
  splits = Math.ceil(K / kChunk);
  return { entry, r8, splits, kChunk };
}

/** Lane layout of the fast kernel per operand layout (REFINE_MATMUL_LN=0/1 overrides, for tuning). */
function lanesAlongN(transA: boolean, transB: boolean): boolean {
  const env = typeof process !== 'undefined' ? process.env?.REFINE_MATMUL_LN : undefined;
  if (env === '0' || env === '1') return env === '1';
  return !transA;
}

interface DispatchArgs {
  a: Tensor;
  b: Tensor;
  M: number;
  N: number;
  K: number;
  nb: number;
  batch: number[];
  aBatch: readonly number[];
  bBatch: readonly number[];
  transA: boolean;
  transB: boolean;
  alpha: number;
  bias: Tensor | null;
  sym: boolean;
  out: Tensor;
  zeroSrc?: Tensor;
}

function gemmDispatch(d: DispatchArgs): void {
  const { M, N, K, nb, batch, transA, transB, out } = d;
  const matA = M * K;
  const matB = K * N;
  // batch strides in elements (0 on broadcast dims)
  const aStr = broadcastStrides(d.aBatch, batch).map((s) => s * matA);
  const bStr = broadcastStrides(d.bBatch, batch).map((s) => s * matB);
  const consts = (extra: Record<string, number>) => ({ AT: transA ? 1 : 0, BT: transB ? 1 : 0, ...extra });

  if (K === 0) {
    const u = new Uniforms().u32(M, N, 0, 0, nb, 0).u32(0).f32(0).vec4u([], 2).vec4u([], 2).vec4u([], 2);
    rt().dispatch({
      kernel: 'matmul',
      entry: 'finish',
      constants: { BIAS: d.bias ? 1 : 0, SYM: 0 },
      uniforms: u,
      buffers: [d.zeroSrc!.buffer, null, out.buffer, d.bias ? d.bias.buffer : d.zeroSrc!.buffer],
      workgroups: groups(out.size, 64),
    });
    return;
  }

  const p = plan(M, N, K, nb, transA, transB, d.sym);
  const direct = p.splits === 1 && !d.sym;
  const target = direct ? out : empty([p.splits * nb * M * N]);
  const u = new Uniforms()
    .u32(M, N, K, p.kChunk, nb, p.splits, batch.length)
    .f32(direct ? d.alpha : 1)
    .vec4u(batch, 2)
    .vec4u(aStr, 2)
    .vec4u(bStr, 2);
  const rows = p.entry === 'main' && p.r8 ? 8 : 4;
  const wz = nb * p.splits;
  const maxDim = rt().limits.maxComputeWorkgroupsPerDimension;
  const ln = p.entry === 'main' && lanesAlongN(transA, transB);
  const wx = ln ? Math.ceil(N / (4 * WG)) : Math.ceil(N / 4);
  const wy = ln ? Math.ceil(M / rows) : Math.ceil(M / (WG * rows));
  if (wx > maxDim || wy > maxDim || wz > maxDim) throw new Error(`matmul: dispatch ${wx}x${wy}x${wz} exceeds the device limit ${maxDim}`);
  const useBias = direct && d.bias;
  rt().dispatch({
    kernel: 'matmul',
    entry: p.entry,
    constants: consts({ WG, SYM: d.sym ? 1 : 0, BIAS: useBias ? 1 : 0, ...(p.entry === 'main' ? { R8: p.r8 ? 1 : 0, LN: ln ? 1 : 0 } : {}) }),
    uniforms: u,
    buffers: [d.a.buffer, d.b.buffer, target.buffer, useBias ? d.bias!.buffer : d.a.buffer],
    workgroups: [wx, wy, wz],
  });
  if (direct) return;
  const fu = new Uniforms().u32(M, N, K, p.kChunk, nb, p.splits, batch.length).f32(d.alpha).vec4u([], 2).vec4u([], 2).vec4u([], 2);
  rt().dispatch({
    kernel: 'matmul',
    entry: 'finish',
    constants: { BIAS: d.bias ? 1 : 0, SYM: d.sym ? 1 : 0 },
    uniforms: fu,
    buffers: [target.buffer, null, out.buffer, d.bias ? d.bias.buffer : target.buffer],
    workgroups: groups(out.size, 64),
  });
  target.dispose();
}

/**
 * Batched matrix product. a: [..., M, K] ([..., K, M] when transA), b: [..., K, N] ([..., N, K]
 * when transB); batch dimensions broadcast. Returns [...batch, M, N].
 */
export function matmul(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
  const tA = !!opts.transA;
  const tB = !!opts.transB;
  const y = gemm({ a, b, transA: tA, transB: tB });
  return record(
    'matmul',
    y,
    [a, b],
    (g, needs) => {
      let ga: Tensor | null = null;
      let gb: Tensor | null = null;
      if (needs[0]) {
        // C = op(A) op(B): d op(A) = G op(B)ᵀ; for transA, dA = (G op(B)ᵀ)ᵀ = op(B) Gᵀ
        const full = tA ? gemm({ a: b, b: g, transA: tB, transB: true }) : gemm({ a: g, b, transA: false, transB: !tB });
        ga = sumTo(full, a.shape, true);
      }
      if (needs[1]) {
        // d op(B) = op(A)ᵀ G; for transB, dB = Gᵀ op(A)
        const full = tB ? gemm({ a: g, b: a, transA: true, transB: tA }) : gemm({ a, b: g, transA: !tA, transB: false });
        gb = sumTo(full, b.shape, true);
      }
      return [ga, gb];
    },
    [a, b],
  );
}

/** PyTorch's linear: x [B, in] · w[out, in]ᵀ + bias[out] → [B, out]. */
export function linear(x: Tensor, w: Tensor, bias?: Tensor | null): Tensor {
  assertRank(x, 2, 'linear', 'x');
  assertRank(w, 2, 'linear', 'weight');
  if (x.shape[1] !== w.shape[1]) throw new Error(`linear: x [${x.shape}] does not match weight [${w.shape}]`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== w.shape[0])) throw new Error(`linear: bias [${bias.shape}] for weight [${w.shape}]`);
  const y = gemm({ a: x, b: w, transA: false, transB: true, bias: bias ?? null });
  const inputs = bias ? [x, w, bias] : [x, w];
  return record(
    'linear',
    y,
    inputs,
    (g, needs) => [
      needs[0] ? gemm({ a: g, b: w, transA: false, transB: false }) : null,
      needs[1] ? gemm({ a: g, b: x, transA: true, transB: false }) : null,
      bias && needs[2] ? reduceRaw(g, [0], 'sum', false, false) : null,
    ],
    [x, w],
  );
}

/**
 * Pairwise similarity scale·z·zᵀ for z [N, D] → [N, N] (REFINE's SupCon logits). Only the upper
 * triangle is computed, then mirrored. Backward: dz = scale·(G + Gᵀ)·z.
 */
export function similarity(z: Tensor, scale = 1): Tensor {
  assertRank(z, 2, 'similarity', 'z');
  assertF32(z, 'similarity');
  const y = gemm({ a: z, b: z, transA: false, transB: true, alpha: scale, sym: true });
  return record(
    'similarity',
    y,
    [z],
    (g) => {
      const n = z.shape[0]!;
      const h = empty([n, n]);
      if (n > 0) {
        rt().dispatch({
          kernel: 'matmul',
          entry: 'symadd',
          uniforms: new Uniforms().u32(n, n, 0, 0, 1, 1, 0).f32(1).vec4u([], 2).vec4u([], 2).vec4u([], 2),
          buffers: [g.buffer, null, h.buffer],
          workgroups: groups(n * n, 64),
        });
      }
      const dz = gemm({ a: h, b: z, transA: false, transB: false, alpha: scale });
      h.dispose();
      return [dz];
    },
    [z],
  );
}

