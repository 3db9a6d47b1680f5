/**
 * PyTorch on the CPU as a peer (`--peer torch`): bench/peers/torch/bench.py times the cases with
 * a peer key in a separate Python process, after the engine's rows (so the two never share the
 * cores). Needs a Python with torch (Debian's python3-torch; REFINE_TORCH_PYTHON picks the
 * interpreter); a development-only peer, never needed by the project or its tests.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** The first interpreter that imports torch, or null. */
export function torchPython(): string | null {
  const candidates = [process.env.REFINE_TORCH_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => Boolean(c));
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) return py;
  }
  return null;
}

/** Median ms per key measured by PyTorch, and its version line. */
export function torchTimes(py: string, keys: string[], timeMs: number, threads = 2): { version: string; ms: Map<string, number>; errors: Map<string, string> } {
  const script = join(import.meta.dirname, 'torch', 'bench.py');
  const r = spawnSync(py, [script, ...keys, '--time', String(timeMs), '--threads', String(threads)], { encoding: 'utf8', timeout: 3_600_000, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`PyTorch peer failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
  const ms = new Map<string, number>();
  const errors = new Map<string, string>();
  let version = 'torch';
  for (const line of r.stdout.trim().split('\n')) {
    const o = JSON.parse(line) as { torch?: string; threads?: number; key?: string; ms?: number; error?: string };
    if (o.torch) version = `torch ${o.torch} on the CPU, ${o.threads} thread(s)`;
    else if (o.key && o.ms !== undefined) ms.set(o.key, o.ms);
    else if (o.key && o.error) errors.set(o.key, o.error);
  }
  return { version, ms, errors };
}
