/**
 * tfjs-webgpu 4.22 as a peer, on the same adapter, for side-by-side rows (`--peer tfjs`).
 * A case opts in with `peerKey`:
 *   conv2d:{fwd|dgrad|wgrad}:N,H,W,Cin,Cout,K,stride,pad     (NHWC, HWIO like ours)
 *   matmul:M,N,K
 * tfjs is a dev-only dependency used by the benchmark alone.
 */
import { rt } from '../../src/tensor/device.js';

type TF = typeof import('@tensorflow/tfjs-core');
interface WebGPUBackendLike {
  submitQueue(): void;
  endComputePassEncoder(): void;
  ensureCommandEncoderReady(): void;
  device: GPUDevice;
}

let tf: TF | null = null;

export async function initTfjs(): Promise<string> {
  const gpu = rt().owner as GPU | undefined;
  if (!gpu) throw new Error('--peer tfjs needs the Node WebGPU bindings (no GPU object was created by init())');
  Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: 'node' }, configurable: true, writable: true });
  (globalThis as Record<string, unknown>).window ??= globalThis;
  tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  const ok = await tf.setBackend('webgpu');
  if (!ok) throw new Error('tfjs could not initialise its webgpu backend');
  await tf.ready();
  return `tfjs-core ${tf.version_core}`;
}

export interface PeerCase {
  run(): void;
  sync(): Promise<void>;
  teardown(): void;
}

export function tfjsCase(key: string): PeerCase | null {
  if (!tf) throw new Error('initTfjs() first');
  const t = tf;
  const [kind, ...rest] = key.split(':');
  const backend = t.backend() as unknown as WebGPUBackendLike;
  const sync = async () => {
    // what tfjs itself does before a readback: close the pass, submit the encoder
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    backend.submitQueue();
    await backend.device.queue.onSubmittedWorkDone();
  };
  let out: import('@tensorflow/tfjs-core').Tensor | null = null;
  const held: import('@tensorflow/tfjs-core').Tensor[] = [];
  const mk = (shape: number[]) => {
    const x = t.randomUniform(shape, -1, 1, 'float32', 1);
    held.push(x);
    return x;
  };
  let run: () => import('@tensorflow/tfjs-core').Tensor;
  if (kind === 'conv2d') {
    const pass = rest[0]!;
    const [N, H, W, Ci, Co, K, s, p] = rest[1]!.split(',').map(Number) as number[];
    const OH = Math.floor((H! + 2 * p! - K!) / s!) + 1;
    const OW = Math.floor((W! + 2 * p! - K!) / s!) + 1;
    const pad = [[0, 0], [p!, p!], [p!, p!], [0, 0]] as [number, number][];
    const x = mk([N!, H!, W!, Ci!]);
    const w = mk([K!, K!, Ci!, Co!]);
    const dy = mk([N!, OH, OW, Co!]);
    const attrs = { strides: [s!, s!], pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined };
    if (pass === 'fwd') run = () => t.conv2d(x as never, w as never, s!, pad as never, 'NHWC');
    else if (pass === 'dgrad')
      run = () => t.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: [N!, H!, W!, Ci!] } as never) as never;
    else if (pass === 'wgrad')
      run = () => t.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [K!, K!, Ci!, Co!] } as never) as never;
    else return null;
  } else if (kind === 'matmul') {
    const [M, N, K] = rest[0]!.split(',').map(Number) as number[];
    const a = mk([M!, K!]);
    const b = mk([K!, N!]);
    run = () => t.matMul(a, b);
  } else {
    return null;
  }
  return {
    run() {
      out?.dispose();
      out = run();
    },
    sync,
    teardown() {
      out?.dispose();
      out = null;
      for (const h of held) h.dispose();
    },
  };
}
