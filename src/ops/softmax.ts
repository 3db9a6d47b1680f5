/**
 * Row-wise ops over the last axis (kernels/softmax.wgsl): softmax, log-softmax and L2
 * normalisation, each with its gradient.
 *
 * Two layouts: one invocation per row, or one workgroup per row with a shared-memory reduction.
 * Short rows (< ROW_WG_MIN_COLS, e.g. 10 classes) always take the first. On a GPU long rows take
 * the second. On a CPU adapter (lavapipe runs a workgroup's invocations as SIMD lanes and its
 * barriers are costly) one invocation per row measured faster as soon as there are a few rows
 * (128×1000 softmax: 1.4 ms vs 3.6 ms; 16×3072 L2: 0.42 vs 0.55 ms), and a workgroup per row
 * only for fewer than CPU_WG_MAX_ROWS long rows (1×100000 softmax: 0.54 vs 2.3 ms).
 */
import { rt } from '../tensor/device.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { Uniforms } from '../tensor/uniforms.js';
import { record } from '../autograd/tape.js';
import { assertF32, groups, normAxis } from './util.js';

const WG = 64;
/** from this row length on, a row may get a whole workgroup */
export const ROW_WG_MIN_COLS = 256;
/** on a CPU adapter, only fewer rows than this get a workgroup each */
export const CPU_WG_MAX_ROWS = 8;

let cpuAdapter: [adapter: string, cpu: boolean] = ['', false];

/** Row layout of the row kernels (also used by kernels/loss_ce.wgsl). */
export function rowLayout(rows: number, cols: number): { ROWWG: number; workgroups: number } {
  const name = rt().adapterName;
  if (cpuAdapter[0] !== name) cpuAdapter = [name, /llvmpipe|lavapipe|swiftshader/i.test(name)];
  const wg = cols >= ROW_WG_MIN_COLS && (!cpuAdapter[1] || rows < CPU_WG_MAX_ROWS) ? 1 : 0;
  return { ROWWG: wg, workgroups: wg ? rows : groups(rows, WG) };
}

/** [rows, cols] view of the last axis; checks rank, dtype and that `axis` is the last one. */
export function lastAxis(x: Tensor, op: string, axis = -1): { rows: number; cols: number } {
  if (x.rank === 0) throw new Error(`${op}: expected a tensor of rank >= 1, got a scalar`);
  assertF32(x, op);
  const a = normAxis(axis, x.rank, op);
  if (a !== x.rank - 1) {
    throw new Error(`${op}: only the last axis is supported (got axis ${axis} for shape [${x.shape}]); permute the axis to the end first`);
  }
  const cols = x.shape[x.rank - 1]!;
  return { rows: cols === 0 ? 0 : x.size / cols, cols };
}

function rowDispatch(entry: string, rows: number, cols: number, buffers: (GPUBuffer | null)[], log = 0, eps = 0): void {
  if (rows === 0 || cols === 0) return;
  const { ROWWG, workgroups } = rowLayout(rows, cols);
  rt().dispatch({
    kernel: 'softmax',
    entry,
    constants: { ROWWG, LOG: log },
    uniforms: new Uniforms().u32(rows, cols).f32(eps).u32(0),
    buffers,
    workgroups,
  });
}

function softmaxImpl(x: Tensor, axis: number, log: 0 | 1): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  const { rows, cols } = lastAxis(x, op, axis);
  const y = empty(x.shape);
  rowDispatch('softmax_fwd', rows, cols, [x.buffer, null, y.buffer], log);
  return record(
    op,
    y,
    [x],
    (g) => {
      const dx = empty(x.shape);
      rowDispatch('softmax_bwd', rows, cols, [y.buffer, g.buffer, dx.buffer], log);
      return [dx];
    },
    [y],
  );
}

/** Numerically stable softmax over the last axis (`axis` must name the last axis). */
export function softmax(x: Tensor, axis = -1): Tensor {
  return softmaxImpl(x, axis, 0);
}

/** Numerically stable log-softmax over the last axis (`axis` must name the last axis). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return softmaxImpl(x, axis, 1);
}

/**
 * L2 normalisation along the last axis: z = x / max(‖x‖₂, eps) (PyTorch's F.normalize). The
 * gradient is (g − z·(z·g)) / ‖x‖ where ‖x‖ > eps, and g / eps where the clamp is active.
 */
export function l2Normalize(x: Tensor, eps = 1e-12): Tensor {
  const { rows, cols } = lastAxis(x, 'l2Normalize');
  if (!(eps > 0)) throw new Error(`l2Normalize: eps must be > 0, got ${eps}`);
  const z = empty(x.shape);
  const norms = empty([rows]);
  rowDispatch('l2_fwd', rows, cols, [x.buffer, null, z.buffer, norms.buffer], 0, eps);
  const out = record(
    'l2Normalize',
    z,
    [x],
    (g) => {
      const dx = empty(x.shape);
      rowDispatch('l2_bwd', rows, cols, [z.buffer, g.buffer, dx.buffer, norms.buffer], 0, eps);
      return [dx];
    },
    [z, norms],
  );
  norms.dispose();
  return out;
}
