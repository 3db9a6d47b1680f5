// npm run bundle:node -- DIR [--platform linux-x64]
//
// Makes DIR a self-contained copy of the command-line tools for a machine that has Node 20+ and a
// GPU driver but no npm or registry access (a lent GPU server, an air-gapped lab machine): each
// script becomes one ES module (DIR/attack.js, DIR/reproduce.js, DIR/bench.js, ...; the WGSL
// kernels are inside), beside the one native file they cannot bundle, Dawn's `dawn.node`, under
// DIR/node_modules/webgpu/. Run them from a project folder, since they read and write data/,
// runs/ and results/ relative to it: `node DIR/attack.js --attack badnets`.
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: npm run bundle:node -- DIR [--platform OS-CPU] (OS-CPU: a folder of node_modules/webgpu/dist, e.g. linux-x64; default this machine)';

/** The entry points, named as their npm scripts are. */
export const ENTRIES = {
  attack: 'scripts/attack.ts',
  reproduce: 'scripts/reproduce.ts',
  train: 'scripts/train.ts',
  'fetch-data': 'scripts/fetch-data.ts',
  'attack-table': 'scripts/attack-table.ts',
  'refine-probe': 'scripts/refine-probe.ts',
  'augmentation-check': 'scripts/augmentation-check.ts',
  'physical-check': 'scripts/physical-check.ts',
  'adaptive-check': 'scripts/adaptive-check.ts',
  defend: 'scripts/defend.ts',
  predict: 'scripts/predict.ts',
  'lc-check': 'scripts/lc-check.ts',
  bench: 'bench/run.ts',
};

/** Bundles ENTRIES into `out` with Dawn's binary for `platform`; returns the files written. */
export async function bundleNode(out, platform = `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`) {
  const webgpu = join(root, 'node_modules', 'webgpu');
  const native = join(webgpu, 'dist', platform);
  if (!existsSync(native)) {
    const have = existsSync(join(webgpu, 'dist')) ? readdirSync(join(webgpu, 'dist')).join(', ') : 'none (run npm ci)';
    throw new Error(`no Dawn binary for ${platform} in node_modules/webgpu/dist (there: ${have})`);
  }
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, join(root, file)])),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outdir: out,
    // webgpu locates dawn.node beside its own index.js, so it stays a package, copied below
    external: ['webgpu'],
    // bundled CommonJS dependencies (cli-progress, tar) call require() for Node built-ins
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  const dest = join(out, 'node_modules', 'webgpu');
  mkdirSync(join(dest, 'dist'), { recursive: true });
  for (const f of ['index.js', 'package.json', 'LICENSE.md']) if (existsSync(join(webgpu, f))) cpSync(join(webgpu, f), join(dest, f));
  cpSync(native, join(dest, 'dist', platform), { recursive: true });
  // .js files in DIR are ES modules
  writeFileSync(join(out, 'package.json'), JSON.stringify({ name: 'refine-gpu-tools', private: true, type: 'module' }, null, 2) + '\n');
  return [...Object.keys(ENTRIES).map((n) => join(out, `${n}.js`)), join(dest, 'dist', platform)];
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  try {
    const { values, positionals } = parseArgs({ allowPositionals: true, options: { platform: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    if (positionals.length !== 1) throw new Error('one output folder is required');
    const out = resolve(positionals[0]);
    await bundleNode(out, values.platform);
    console.log(`bundled ${Object.keys(ENTRIES).length} tools into ${out}; run them from a project folder, e.g. node ${join(out, 'attack.js')} --help`);
  } catch (e) {
    console.error(`bundle:node: ${e.message}\n${USAGE}`);
    process.exit(1);
  }
}
