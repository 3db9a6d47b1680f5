/**
 * Acquires the GPU. In Node the device comes from Dawn's bindings (npm `webgpu`), loaded lazily
 * so that the library itself has no Node-only import (it runs in a browser given a GPUDevice).
 */
import { Runtime } from './runtime.js';

let current: Runtime | null = null;

export interface InitOptions {
  /** use this device (e.g. a browser's); the engine does not own its creation */
  device?: GPUDevice;
  /** adapter name to report when `device` is given */
  adapterName?: string;
  powerPreference?: GPUPowerPreference;
}

const NO_ADAPTER_HELP =
  'No WebGPU adapter is available. On a machine without a GPU install a Vulkan software driver: ' +
  'Mesa lavapipe >= 24 (Debian/Ubuntu: `npm run setup`, which installs mesa-vulkan-drivers, from ' +
  'bookworm-backports on Debian 12). With a GPU, install its Vulkan driver.';

async function nodeGPU(): Promise<{ gpu: GPU; owner: unknown }> {
  const spec = 'webgpu';
  // Dawn's Node bindings; kept out of static imports so bundlers for the browser skip them.
  const mod = (await import(/* @vite-ignore */ spec)) as { create(flags: string[]): GPU; globals: object };
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create([]);
  return { gpu, owner: gpu };
}

export async function init(opts: InitOptions = {}): Promise<Runtime> {
  if (current) return current;
  if (opts.device) {
    current = new Runtime(opts.device, opts.adapterName ?? 'user-supplied device');
    return current;
  }
  let gpu: GPU;
  let owner: unknown;
  if (typeof navigator !== 'undefined' && (navigator as Navigator).gpu) {
    gpu = (navigator as Navigator).gpu;
  } else {
    ({ gpu, owner } = await nodeGPU());
  }
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new Error(NO_ADAPTER_HELP);
  // Ask for the adapter's real limits: the defaults (128 MiB bindings, 8 storage buffers) are
  // far below what most adapters offer.
  const requiredLimits: Record<string, number> = {};
  for (const k of [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupSizeZ',
    'maxComputeWorkgroupsPerDimension',
  ] as const) {
    requiredLimits[k] = adapter.limits[k];
  }
  const wanted: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups' as GPUFeatureName];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const info = adapter.info;
  const name = [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' ') || 'unknown adapter';
  current = new Runtime(device, name, owner, info);
  return current;
}

/** The runtime set up by `init()`. */
export function rt(): Runtime {
  if (!current) throw new Error('refine-gpu: call `await init()` before using tensors');
  return current;
}

/** Releases every GPU resource so that Node can exit. */
export function shutdown(): void {
  current?.destroy();
  current = null;
}
