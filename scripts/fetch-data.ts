/**
 * npm run fetch-data -- <cifar10|fashion-mnist> [--from FILE|DIR] [--data-dir DIR]
 * Downloads (with a progress bar and checksum verification) or imports a dataset into the data
 * directory (default ./data). Idempotent: a dataset already in place is not fetched again.
 */
import { fetchCifar10, loadCifar10 } from '../src/data/cifar10.js';
import { fetchFashionMnist, findFashionMnist, loadFashionMnistDir } from '../src/data/fashion-mnist.js';
import { parseArgsOrExit } from '../src/util/cli.js';

const usage = `usage: npm run fetch-data -- <cifar10|fashion-mnist> [--from FILE|DIR] [--data-dir DIR]
  --from FILE|DIR   import a local copy instead of downloading (cifar10: the cifar-10-binary.tar.gz
                    archive; fashion-mnist: a folder holding its four idx files)
  --data-dir DIR    where datasets live (default: data)
  -h, --help`;
const { values, positionals } = parseArgsOrExit('fetch-data', usage, {
  options: { from: { type: 'string' }, 'data-dir': { type: 'string', default: 'data' }, help: { type: 'boolean', short: 'h' } },
  allowPositionals: true,
});
if (positionals.length !== 1) {
  console.error(`fetch-data: give one dataset name (got ${positionals.length})\n${usage}`);
  process.exit(1);
}
const dataDir = values['data-dir']!;
const name = positionals[0]!;
try {
  if (name === 'cifar10') {
    const dir = await fetchCifar10(dataDir, { from: values.from });
    const { train, test } = loadCifar10(dataDir);
    console.log(`CIFAR-10 ready in ${dir}: ${train.n} train / ${test.n} test images`);
  } else if (name === 'fashion-mnist') {
    let dir = findFashionMnist(dataDir, values.from);
    if (!dir) dir = await fetchFashionMnist(dataDir);
    const { train, test } = loadFashionMnistDir(dir);
    console.log(`Fashion-MNIST ready in ${dir}: ${train.n} train / ${test.n} test images (checksums verified)`);
  } else {
    console.error(`fetch-data: unknown dataset '${name}'\n${usage}`);
    process.exit(1);
  }
} catch (e) {
  console.error(`fetch-data: ${(e as Error).message}`);
  process.exit(1);
}
