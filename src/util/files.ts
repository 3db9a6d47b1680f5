/**
 * Atomic file writes and their temporary files. Every atomic write goes through `tempPath(file)`,
 * a name that carries the writer's process id, then a rename; a write that fails removes its own
 * temporary file, and a process killed in the middle of one leaves it behind, so the folders a run
 * opens are swept at start-up (`sweepTempFiles`): a temporary file whose writer is no longer
 * running is removed.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const TEMP = /\.tmp(?:-(\d+))?$/;

/** The temporary name an atomic write of `file` uses in this process. */
export function tempPath(file: string): string {
  return `${file}.tmp-${process.pid}`;
}

function running(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to another user
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files (and folders) in `dir` left by writers that are no longer running:
 * `NAME.tmp-PID` whose PID is not a live process, and `NAME.tmp` (the name of older versions,
 * which no running writer uses). Returns the names removed; a missing folder is not an error.
 */
export function sweepTempFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m || (m[1] !== undefined && running(Number(m[1])))) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2));
}

/** Writes through a temporary file + rename; a failed write (a full disk) removes its temporary file. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = tempPath(file);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** A file of little-endian float32 values (black-box answers), copied into an aligned array. */
export function readFloat32(file: string): Float32Array {
  const b = readFileSync(file);
  if (b.byteLength % 4 !== 0) throw new Error(`${file}: ${b.byteLength} bytes are not float32 values: delete it to query again`);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** The parsed JSON file, or null when it is missing or unreadable (a torn write of an old version). */
export function readJson<T>(file: string): T | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}
