/**
 * Bilinear grid sampling, PyTorch F.grid_sample semantics (kernels/gridsample.wgsl), with
 * gradients for the image and the grid. The image gradient is a scatter done with an f32 atomic
 * add (compare-exchange on u32 bits): see the kernel's header for why and what it costs
 * (bit-level run-to-run nondeterminism of dx; the grid gradient is deterministic).
 */
import { rt } from '../tensor/device.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { Uniforms } from '../tensor/uniforms.js';
import { record } from '../autograd/tape.js';
import { fillRaw } from './copy.js';
import { assertF32, groups } from './util.js';

const WG = 64;

export interface GridSampleOptions {
  /** default false (PyTorch's default) */
  alignCorners?: boolean;
  /** default 'zeros' */
  paddingMode?: 'zeros' | 'border';
}

/**
 * x [N, H, W, C] sampled at grid [N, OH, OW, 2] ((x, y) in [-1, 1], x along the width) →
 * [N, OH, OW, C], bilinear.
 */
export function gridSample(x: Tensor, grid: Tensor, opts: GridSampleOptions = {}): Tensor {
  const op = 'gridSample';
  assertF32(x, `${op} x`);
  assertF32(grid, `${op} grid`);
  if (x.rank !== 4) throw new Error(`${op}: x must be NHWC [N, H, W, C], got [${x.shape}]`);
  if (grid.rank !== 4 || grid.shape[3] !== 2 || grid.shape[0] !== x.shape[0]) {
    throw new Error(`${op}: grid must be [N, OH, OW, 2] with N = ${x.shape[0]} for x [${x.shape}], got [${grid.shape}]`);
  }
  const pad = opts.paddingMode ?? 'zeros';
  if (pad !== 'zeros' && pad !== 'border') throw new Error(`${op}: unsupported paddingMode '${String(pad)}'`);
  const [N, H, W, C] = x.shape as [number, number, number, number];
  const [, OH, OW] = grid.shape as [number, number, number, number];
  if (H < 1 || W < 1) throw new Error(`${op}: empty input [${x.shape}]`);
  const constants = { ALIGN: opts.alignCorners ? 1 : 0, PAD: pad === 'border' ? 1 : 0 };
  const uni = (total: number) => new Uniforms().u32(N, H, W, C, OH, OW, total, 0);
  const y = empty([N, OH, OW, C]);
  rt().dispatch({ kernel: 'gridsample', entry: 'fwd', constants, uniforms: uni(y.size), buffers: [x.buffer, grid.buffer, y.buffer], workgroups: groups(y.size, WG) });
  return record(
    op,
    y,
    [x, grid],
    (g, needs) => {
      let dx: Tensor | null = null;
      let dgrid: Tensor | null = null;
      if (needs[0]) {
        dx = fillRaw(empty(x.shape), 0);
        rt().dispatch({
          kernel: 'gridsample',
          entry: 'bwd_x',
          constants,
          uniforms: uni(g.size),
          buffers: [null, grid.buffer, null, g.buffer, dx.buffer],
          workgroups: groups(g.size, WG),
        });
      }
      if (needs[1]) {
        dgrid = empty(grid.shape);
        const pts = N * OH * OW;
        rt().dispatch({
          kernel: 'gridsample',
          entry: 'bwd_grid',
          constants,
          uniforms: uni(pts),
          buffers: [x.buffer, grid.buffer, null, g.buffer, null, dgrid.buffer],
          workgroups: groups(pts, WG),
        });
      }
      return [dx, dgrid];
    },
    [x, grid],
  );
}
