/**
 * CIFAR-10, binary version: 5 training batches + 1 test batch of 10,000 records, each record one
 * label byte then 3072 bytes of CHW pixels (1024 R, 1024 G, 1024 B). Converted to NHWC.
 * `npm run fetch-data -- cifar10` downloads the official archive (MD5 as published on the
 * dataset's page; the authors publish no SHA-256), or `--from FILE` imports one already on disk.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { checkDataset, type ImageDataset, type Split } from './dataset.js';
import { download, hashFile, type Checksum } from './download.js';
import { sweepTempFiles, tempPath } from '../util/files.js';

export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const CIFAR10_CHECKSUM: Checksum = { algorithm: 'md5', hex: 'c32a1d4ab5d03f1284b67883e8d87530' };
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const BATCH_DIR = 'cifar-10-batches-bin';
const TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
const TEST_FILE = 'test_batch.bin';
const RECORD = 1 + 3072;

export function cifarDir(dataDir: string): string {
  return join(dataDir, 'cifar10', BATCH_DIR);
}

/**
 * Every batch file must hold the same number of records (10,000 in the official files): a file cut
 * at a record boundary is a whole number of records and would otherwise load as a smaller dataset.
 */
function checkRecordCounts(dir: string): void {
  const files = [...TRAIN_FILES, TEST_FILE].map((f) => join(dir, f)).filter((f) => existsSync(f));
  const counts = files.map((f) => statSync(f).size / RECORD);
  const tally = new Map<number, number>();
  for (const c of counts) tally.set(c, (tally.get(c) ?? 0) + 1);
  if (tally.size <= 1) return;
  const usual = [...tally].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]![0];
  const odd = files.map((f, i) => [f, counts[i]!] as const).filter(([, c]) => c !== usual);
  throw new Error(
    odd.map(([f, c]) => `${f}: ${Number.isInteger(c) ? `${c} records` : `${c * RECORD} bytes`} where the other batch files hold ${usual} (cut short?)`).join('\n') +
      '\nthe official CIFAR-10 batch files hold 10,000 records each: import the archive again',
  );
}

function parseBatches(dir: string, files: string[], name: string): ImageDataset {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (const f of files) {
    const file = join(dir, f);
    if (!existsSync(file)) throw new Error(`${file}: missing CIFAR-10 batch file`);
    const buf = readFileSync(file);
    if (buf.length === 0 || buf.length % RECORD !== 0) {
      throw new Error(`${file}: truncated or not a CIFAR-10 binary batch (${buf.length} bytes is not a multiple of ${RECORD})`);
    }
    chunks.push(buf);
    n += buf.length / RECORD;
  }
  const images = new Uint8Array(n * 3072);
  const labels = new Uint8Array(n);
  let i = 0;
  for (const buf of chunks) {
    for (let r = 0; r < buf.length / RECORD; r++, i++) {
      const off = r * RECORD;
      labels[i] = buf[off]!;
      // CHW -> HWC
      const dst = i * 3072;
      for (let p = 0; p < 1024; p++) {
        images[dst + 3 * p] = buf[off + 1 + p]!;
        images[dst + 3 * p + 1] = buf[off + 1 + 1024 + p]!;
        images[dst + 3 * p + 2] = buf[off + 1 + 2048 + p]!;
      }
    }
  }
  return checkDataset({ name, images, labels, n, h: 32, w: 32, c: 3, classes: CIFAR10_CLASSES });
}

export function loadCifar10(dataDir = 'data'): Split {
  const dir = cifarDir(dataDir);
  if (!existsSync(dir)) throw new Error(`CIFAR-10 not found in ${dir}: run \`npm run fetch-data -- cifar10\` (or \`-- cifar10 --from cifar-10-binary.tar.gz\`)`);
  checkRecordCounts(dir);
  return { train: parseBatches(dir, TRAIN_FILES, 'cifar10/train'), test: parseBatches(dir, [TEST_FILE], 'cifar10/test') };
}

function isComplete(dataDir: string): boolean {
  const dir = cifarDir(dataDir);
  const sizes = [...TRAIN_FILES, TEST_FILE].map((f) => (existsSync(join(dir, f)) ? statSync(join(dir, f)).size : 0));
  return sizes.every((s) => s > 0 && s % RECORD === 0 && s === sizes[0]);
}

/**
 * Extracts an archive into dataDir/cifar10 atomically (into a temporary folder, validated, then
 * renamed). Returns a warning when the archive is not the official one (checksum differs).
 */
export async function importCifar10(archive: string, dataDir: string): Promise<{ warning?: string }> {
  if (!existsSync(archive)) throw new Error(`${archive}: no such file`);
  const md5 = await hashFile(archive, 'md5');
  const warning = md5 === CIFAR10_CHECKSUM.hex ? undefined : `${archive} is not the official CIFAR-10 archive (md5 ${md5}, official ${CIFAR10_CHECKSUM.hex}); importing it anyway`;
  const root = join(dataDir, 'cifar10');
  const tmp = tempPath(root);
  sweepTempFiles(dataDir); // the half-extracted folder of an import that was killed
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await tar.x({ file: archive, cwd: tmp, strict: true }).catch((e: Error) => {
      throw new Error(`${archive}: not a readable .tar.gz archive (${e.message})`);
    });
    const dir = join(tmp, BATCH_DIR);
    if (!existsSync(dir)) throw new Error(`${archive}: no ${BATCH_DIR}/ folder inside (not the CIFAR-10 binary version?)`);
    parseBatches(dir, TRAIN_FILES, 'cifar10/train');
    parseBatches(dir, [TEST_FILE], 'cifar10/test');
    checkRecordCounts(dir);
    rmSync(root, { recursive: true, force: true });
    renameSync(tmp, root);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return warning ? { warning } : {};
}

/** Downloads (if needed) and extracts CIFAR-10 into dataDir/cifar10; idempotent. */
export async function fetchCifar10(dataDir: string, opts: { from?: string; url?: string; checksum?: Checksum; fetchImpl?: typeof fetch } = {}): Promise<string> {
  if (opts.from) {
    const { warning } = await importCifar10(opts.from, dataDir);
    if (warning) console.warn(warning);
    return cifarDir(dataDir);
  }
  if (isComplete(dataDir)) return cifarDir(dataDir);
  const archive = join(dataDir, 'downloads', 'cifar-10-binary.tar.gz');
  const url = opts.url ?? CIFAR10_URL;
  await download(url, archive, {
    checksum: opts.checksum ?? (url === CIFAR10_URL ? CIFAR10_CHECKSUM : undefined),
    label: 'cifar-10-binary.tar.gz',
    fetchImpl: opts.fetchImpl,
  });
  await importCifar10(archive, dataDir);
  return cifarDir(dataDir);
}
