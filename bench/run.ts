/**
 * `npm run bench [-- FILTER...] [--json FILE] [--time MS]`: kernel and model throughput on the
 * current adapter, each row as GFLOP/s (or GB/s, images/s) and as a % of the adapter's measured
 * FMA peak. Cases live in bench/cases/*.ts (each exports `cases: BenchCase[]`).
 */
import { readdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { autotune, describeTuning, init, rt, shutdown } from '../src/index.js';
import type { BenchCase } from './types.js';
import { peakCases } from './cases/peak.js';
import { parseArgsOrExit } from '../src/util/cli.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const USAGE = `usage: npm run bench [-- FILTER...] [--json FILE] [--time MS_PER_CASE] [--peer tfjs|torch] [--profile]
  FILTER...         run only the cases whose name contains one of these (case-insensitive);
                    "REFINE scaling" runs the REFINE step at other batches, sizes and widths
                    (the paper's included: minutes on a CPU), left out otherwise
  --json FILE       also write the rows there
  --time MS         measuring time per case (default: 1500)
  --peer tfjs       also measure tfjs-webgpu on the cases that have a peer (same adapter)
  --peer torch      also measure PyTorch on the CPU (a Python with torch; after the engine's rows)
  --profile         GPU time per kernel for each case (timestamp queries)
  -h, --help`;
const { values, positionals } = parseArgsOrExit('bench', USAGE, {
  options: {
    json: { type: 'string' },
    time: { type: 'string', default: '1500' },
    peer: { type: 'string' },
    profile: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: true,
});
const timeMs = Number(values.time);
if (!(timeMs > 0)) {
  console.error(`bench: --time must be a positive number of milliseconds, got ${values.time}\n${USAGE}`);
  process.exit(1);
}
if (values.peer && values.peer !== 'tfjs' && values.peer !== 'torch') {
  console.error(`bench: --peer must be tfjs or torch, got '${values.peer}'\n${USAGE}`);
  process.exit(1);
}

export interface KernelShare {
  kernel: string;
  count: number;
  ms: number;
  pct: number;
}

export interface Row {
  /** with --profile: GPU time per kernel over one run (timestamp queries) */
  profile?: KernelShare[];
  /** with --profile: share of GPU time in conv and matmul kernels */
  gemmShare?: number;
  name: string;
  /** set on peer rows: the engine measured */
  engine?: string;
  /** our speed / PyTorch's (CPU) on the same work, with --peer torch */
  speedupVsTorch?: number;
  /** our speed / the peer's, on our rows that have a peer row */
  speedupVsPeer?: number;
  ms: number;
  gflops?: number;
  gbps?: number;
  imagesPerSec?: number;
  pctPeak?: number;
  /** highest GPU memory held by live tensors during setup + runs (pool bucket sizes), MiB */
  peakMiB?: number;
  samples: number;
}

async function measure(c: BenchCase, sync: () => Promise<void> = () => rt().sync()): Promise<Row> {
  rt().pool.resetPeak();
  await c.setup();
  try {
    const bench = new Bench({ time: timeMs, iterations: 3, warmupIterations: 2, warmupTime: 200 });
    bench.add(c.name, async () => {
      c.run();
      await sync();
    });
    await bench.run();
    const r = bench.tasks[0]!.result;
    if (r.state === 'errored') throw r.error;
    if (r.state !== 'completed' && r.state !== 'aborted-with-statistics') throw new Error(`${c.name}: ${r.state}`);
    const ms = r.latency.p50;
    const row: Row = { name: c.name, ms, samples: r.latency.samplesCount };
    if (c.flops) row.gflops = c.flops / ms / 1e6;
    if (c.bytes) row.gbps = c.bytes / ms / 1e6;
    if (c.images) {
      row.imagesPerSec = (c.images / ms) * 1e3;
      row.peakMiB = rt().pool.getStats().peakBytesInUse / 2 ** 20;
    }
    return row;
  } finally {
    c.teardown();
  }
}

const here = import.meta.dirname;
// .ts under tsx, .js when the bench is compiled or bundled (a machine without tsx)
const files = readdirSync(join(here, 'cases')).filter((f) => /\.[jt]s$/.test(f) && !f.startsWith('peak.')).sort();
const all: BenchCase[] = [];
for (const f of files) {
  const mod = (await import(join(here, 'cases', f))) as { cases?: BenchCase[] };
  all.push(...(mod.cases ?? []));
}
const selected = all.filter((c) => (positionals.length === 0 ? !c.onlyWhenNamed : positionals.some((p) => c.name.toLowerCase().includes(p.toLowerCase()))));
if (selected.length === 0) {
  console.error(`no benchmark case matches ${positionals.join(' ')}; cases: \n  ${all.map((c) => c.name).join('\n  ')}`);
  process.exit(1);
}

const runtime = await init();
console.log(`adapter: ${runtime.adapterName}`);
for (const c of selected.filter((x) => x.available && !x.available())) console.log(`skipped (this adapter cannot run it): ${c.name}`);
selected.splice(0, selected.length, ...selected.filter((c) => !c.available || c.available()));
console.log(describeTuning(await autotune()));
const peer = values.peer === 'tfjs' ? await import('./peers/tfjs.js') : null;
const torchPeer = values.peer === 'torch' ? await import('./peers/torch.js') : null;
const torchPy = torchPeer ? torchPeer.torchPython() : null;
if (torchPeer && !torchPy) {
  console.error('bench: --peer torch needs a Python with torch (apt-get install python3-torch, or REFINE_TORCH_PYTHON=/path/to/python)');
  process.exit(1);
}
if (peer) console.log(`peer: ${await peer.initTfjs()} (webgpu backend, same adapter)`);
// the best of the launch shapes (a CPU and a GPU want different ones)
const peaks: Row[] = [];
for (const c of peakCases) peaks.push(await measure(c));
const peak = peaks.reduce((a, b) => (b.gflops! > a.gflops! ? b : a));
console.log(`measured FMA peak: ${peak.gflops!.toFixed(1)} GFLOP/s (${peaks.map((p) => `${p.name}: ${p.gflops!.toFixed(1)}`).join('; ')})\n`);
const rows: Row[] = [];
const pad = Math.max(...selected.map((c) => c.name.length), 10);
console.log(`${'case'.padEnd(pad)}  ${'ms'.padStart(9)}  ${'GFLOP/s'.padStart(8)}  ${'% peak'.padStart(6)}  ${'GB/s'.padStart(7)}  ${'img/s'.padStart(8)}`);
const f = (v: number | undefined, w: number, d = 1) => (v === undefined ? '-'.padStart(w) : v.toFixed(d).padStart(w));
const print = (row: Row) =>
  console.log(
    `${row.name.padEnd(pad)}  ${f(row.ms, 9, 2)}  ${f(row.gflops, 8)}  ${f(row.pctPeak, 6)}  ${f(row.gbps, 7)}  ${f(row.imagesPerSec, 8, 0)}` +
      (row.speedupVsPeer ? `  ${row.speedupVsPeer.toFixed(2)}x tfjs` : '') +
      (row.peakMiB !== undefined ? `  peak GPU memory ${row.peakMiB.toFixed(0)} MiB` : ''),
  );
/** One more run of `c` under timestamp queries: where its GPU time goes. */
async function profileCase(c: BenchCase): Promise<KernelShare[]> {
  await c.setup();
  try {
    c.run();
    await runtime.sync();
    runtime.startProfile();
    c.run();
    const prof = await runtime.stopProfile();
    const total = [...prof.values()].reduce((p, v) => p + v.ms, 0);
    return [...prof].map(([kernel, v]) => ({ kernel, count: v.count, ms: v.ms, pct: (100 * v.ms) / total }));
  } finally {
    c.teardown();
  }
}

for (const c of selected) {
  const row = await measure(c);
  if (values.profile) {
    row.profile = await profileCase(c);
    row.gemmShare = row.profile.filter((k) => /^(conv2d|matmul)/.test(k.kernel)).reduce((p, k) => p + k.pct, 0);
  }
  if (row.gflops) row.pctPeak = (100 * row.gflops) / peak.gflops!;
  rows.push(row);
  const pc = peer && c.peerKey ? peer.tfjsCase(c.peerKey) : null;
  if (pc) {
    const prow = await measure({ ...c, name: `  tfjs: ${c.name}`, setup() {}, run: () => pc.run(), teardown: () => pc.teardown() }, () => pc.sync());
    prow.engine = 'tfjs-webgpu';
    if (prow.gflops) prow.pctPeak = (100 * prow.gflops) / peak.gflops!;
    row.speedupVsPeer = prow.ms / row.ms;
    print(row);
    print(prow);
    rows.push(prow);
  } else {
    print(row);
  }
  if (row.profile) {
    console.log(`    conv+matmul kernels: ${row.gemmShare!.toFixed(1)}% of GPU time; top kernels:`);
    for (const k of row.profile.slice(0, 6)) console.log(`      ${k.kernel.padEnd(34)} ${String(k.count).padStart(4)}x ${k.ms.toFixed(1).padStart(8)} ms ${k.pct.toFixed(1).padStart(5)}%`);
  }
}
if (torchPeer && torchPy) {
  // after every engine row, so that PyTorch and lavapipe never share the cores
  const keyed = selected.filter((c) => c.peerKey);
  const t = torchPeer.torchTimes(torchPy, keyed.map((c) => c.peerKey!), timeMs);
  console.log(`\npeer: ${t.version}`);
  for (const c of keyed) {
    const row = rows.find((r) => r.name === c.name && !r.engine)!;
    const ms = t.ms.get(c.peerKey!);
    if (ms === undefined) {
      console.log(`  torch: ${c.name}: ${t.errors.get(c.peerKey!) ?? 'not measured'}`);
      continue;
    }
    const prow: Row = { name: `  torch: ${c.name}`, ms, samples: 0, engine: 'torch-cpu' };
    if (c.flops) prow.gflops = c.flops / ms / 1e6;
    if (c.images) prow.imagesPerSec = (c.images / ms) * 1e3;
    row.speedupVsTorch = ms / row.ms;
    rows.push(prow);
    console.log(`${c.name.padEnd(pad)}  engine ${f(row.ms, 9, 2)} ms  torch ${f(ms, 9, 2)} ms  engine/torch speed ${row.speedupVsTorch.toFixed(2)}x`);
  }
}
if (values.json) {
  const doc = { adapter: runtime.adapterName, date: new Date().toISOString(), peakGflops: peak.gflops, peakCase: peak.name, rows };
  writeFileSync(values.json + '.tmp', JSON.stringify(doc, null, 2));
  renameSync(values.json + '.tmp', values.json);
  console.log(`\nwrote ${values.json}`);
}
shutdown();
