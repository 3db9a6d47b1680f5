// Exits 0 and prints the adapter name when a WebGPU adapter can be had through Dawn's Node
// bindings; exits 1 otherwise. Used by scripts/setup-system.sh to decide whether to install lavapipe.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) { console.error('no WebGPU adapter'); process.exit(1); }
const info = adapter.info ?? {};
console.log(`${info.vendor ?? ''} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`.trim());
process.exit(0);
