/**
 * Image resizing with PyTorch F.interpolate semantics (kernels/resize.wgsl): bilinear with
 * align_corners true or false (half-pixel centres, clamped at 0), and 'nearest' (PyTorch's legacy
 * nearest: floor(o·in/out)). The backward pass is a deterministic gather.
 */
import { rt } from '../tensor/device.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { Uniforms } from '../tensor/uniforms.js';
import { record } from '../autograd/tape.js';
import { assertF32, groups } from './util.js';
import { memoryLayout } from './memory-plan.js';

export type ResizeMode = 'bilinear' | 'nearest';

export interface ResizeOptions {
  mode: ResizeMode;
  /** bilinear only (PyTorch rejects it for 'nearest'); default false */
  alignCorners?: boolean;
}

/** PyTorch's source-coordinate scale for one axis (as f32, like PyTorch's float math). */
function axisScale(isz: number, osz: number, align: boolean): number {
  if (align) return osz > 1 ? Math.fround((isz - 1) / (osz - 1)) : 0;
  return Math.fround(isz / osz);
}

/** x [N, H, W, C] → [N, outH, outW, C]. */
export function resize(x: Tensor, size: readonly [number, number], opts: ResizeOptions): Tensor {
  const op = 'resize';
  assertF32(x, op);
  if (x.rank !== 4) throw new Error(`${op}: x must be NHWC [N, H, W, C], got [${x.shape}]`);
  const [N, IH, IW, C] = x.shape as [number, number, number, number];
  const [OH, OW] = size;
  if (!Number.isInteger(OH) || !Number.isInteger(OW) || OH < 1 || OW < 1) throw new Error(`${op}: output size [${size}] must be positive integers (x [${x.shape}])`);
  if (IH < 1 || IW < 1) throw new Error(`${op}: empty input [${x.shape}]`);
  if (opts.mode !== 'bilinear' && opts.mode !== 'nearest') throw new Error(`${op}: unknown mode '${String(opts.mode)}'`);
  const nearest = opts.mode === 'nearest';
  const align = !!opts.alignCorners;
  if (nearest && align) throw new Error(`${op}: alignCorners can only be set with mode 'bilinear' (x [${x.shape}])`);
  const ry = axisScale(IH, OH, align);
  const rx = axisScale(IW, OW, align);
  const WG = memoryLayout().wg;
  const constants = { MODE: nearest ? 1 : 0, ALIGN: align ? 1 : 0, WG };
  // vec4 over channels when C % 4 == 0 (then C and the totals count vec4s)
  const v = C % 4 === 0 ? 4 : 1;
  const sfx = v === 4 ? '4' : '';
  const uni = (total: number) => new Uniforms().u32(N, IH, IW, C / v, OH, OW, total / v, 0).f32(ry, rx).u32(0, 0);
  const y = empty([N, OH, OW, C]);
  rt().dispatch({ kernel: 'resize', entry: `fwd${sfx}`, constants, uniforms: uni(y.size), buffers: [x.buffer, y.buffer], workgroups: groups(y.size / v, WG) });
  return record(`${op}(${opts.mode})`, y, [x], (g) => {
    const dx = empty(x.shape);
    rt().dispatch({ kernel: 'resize', entry: `bwd${sfx}`, constants, uniforms: uni(dx.size), buffers: [g.buffer, dx.buffer], workgroups: groups(dx.size / v, WG) });
    return [dx];
  });
}

/** resize to twice the height and width (the UNet's nn.Upsample(scale_factor=2)). */
export function upsample2x(x: Tensor, mode: ResizeMode = 'bilinear', alignCorners = false): Tensor {
  if (x.rank !== 4) throw new Error(`upsample2x: x must be NHWC [N, H, W, C], got [${x.shape}]`);
  return resize(x, [x.shape[1]! * 2, x.shape[2]! * 2], { mode, alignCorners });
}
