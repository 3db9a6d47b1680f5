/**
 * npm run predict -- --defended DIR IMAGE|FOLDER... [--json] [--undefended]
 *
 * Classifies images with a defended model written by `npm run defend` (the folder alone).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { init, noGrad, scope, shutdown, tensor } from '../src/index.js';
import { describeAdapted, isImageFile, loadImageAs, type AdaptedImage } from '../src/data/image-folder.js';
import { normalizeInto } from '../src/data/loader.js';
import { softmax } from '../src/ops/softmax.js';
import { loadDefended } from '../src/pipeline/defend.js';
import { loadBlackBoxDefense } from '../src/pipeline/defend-blackbox.js';
import { parseDefenseConfig } from '../src/pipeline/defense-config.js';
import { parseArgsOrExit } from '../src/util/cli.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

const USAGE = `usage: npm run predict -- --defended DIR IMAGE|FOLDER... [--json] [--undefended]

  --defended DIR     a defended-model folder written by npm run defend
  --blackbox-url URL a black box's defense: the endpoint to query (default: the one it was
                     trained against, in DIR/defense.json)
  IMAGE|FOLDER       PNG / JPEG files, or folders of them (searched one level of sub-folders deep);
                     images of another size are resized to the classifier's (bilinear), colour
                     images converted to grey for a grey classifier, and the count said on stderr
  --json             one JSON object per image with every class probability (and "resizedFrom":
                     [h, w] / "convertedFrom": "colour" where the image was adapted)
  --undefended       also print the classifier's own prediction without REFINE
  -h, --help`;

const { values, positionals } = parseArgsOrExit('predict', USAGE, {
  options: { defended: { type: 'string' }, 'blackbox-url': { type: 'string' }, json: { type: 'boolean', default: false }, undefended: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  allowPositionals: true,
});

function collect(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new Error(`${p}: no such file or folder`);
    }
    if (st.isFile()) out.push(p);
    else {
      for (const e of readdirSync(p).sort()) {
        const f = join(p, e);
        if (statSync(f).isDirectory()) out.push(...readdirSync(f).sort().filter(isImageFile).map((x) => join(f, x)));
        else if (isImageFile(e)) out.push(f);
      }
    }
  }
  if (!out.length) throw new Error('no images given (PNG or JPEG files, or folders of them)');
  return out;
}

/** How an image was made to fit the classifier's input (empty when it fitted as it was). */
let code = 0;
const adaptedAll: Omit<AdaptedImage, 'data'>[] = [];
try {
  if (!values.defended) throw new Error('--defended DIR is required');
  const files = collect(positionals);
  await init();
  const defenseFile = join(values.defended, 'defense.json');
  const blackBox = existsSync(defenseFile) && parseDefenseConfig(readFileSync(defenseFile, 'utf8'), values.defended).blackBox !== undefined;
  if (values['blackbox-url'] && !blackBox) throw new Error(`--blackbox-url: ${values.defended} defends a classifier file, not a black box`);
  // a black box's defense: T(x) as an 8-bit image to the endpoint, its answer remapped
  const bbd = blackBox ? loadBlackBoxDefense(values.defended, { url: values['blackbox-url'] }) : null;
  const wb = bbd ? null : loadDefended(values.defended);
  const config = (bbd ?? wb)!.config;
  const { h, w, c, normalization } = config.input;
  const px = h * w * c;
  const batch = 64;
  for (let s = 0; s < files.length; s += batch) {
    const part = files.slice(s, s + batch);
    const u8 = new Uint8Array(part.length * px);
    // what was adapted, per image (the --json fields)
    const adapted = part.map((f, k) => {
      const { data, ...a } = loadImageAs(f, h, w, c as 1 | 3);
      u8.set(data, k * px);
      adaptedAll.push(a);
      return a;
    });
    let probs: Float32Array<ArrayBufferLike>;
    let raw: Float32Array<ArrayBufferLike> = new Float32Array(0);
    if (bbd) {
      const ds = { name: 'images', images: u8, labels: new Uint8Array(part.length), n: part.length, h, w, c, classes: config.classes };
      probs = await bbd.defense.probabilities(ds);
      if (values.undefended) raw = await bbd.defense.blackBox.query({ images: u8, n: part.length, h, w, c });
    } else {
      const defended = wb!.defended;
      const x = new Float32Array(part.length * px);
      for (let k = 0; k < part.length; k++) normalizeInto({ data: u8.subarray(k * px, (k + 1) * px), h, w, c }, normalization, x, k * px);
      const [pd, pu] = scope(() =>
        noGrad(() => {
          const t = tensor(x, [part.length, h, w, c]);
          return [defended.probabilities(t), values.undefended ? softmax(defended.classifier.forward(t)) : tensor(new Float32Array(1), [1])];
        }),
      );
      probs = (await pd!.read()) as Float32Array;
      raw = (await pu!.read()) as Float32Array;
      pd!.dispose();
      pu!.dispose();
    }
    const k = config.classes.length;
    part.forEach((f, i) => {
      const row = Array.from(probs.subarray(i * k, (i + 1) * k));
      const top = row.indexOf(Math.max(...row));
      const rawRow = values.undefended ? Array.from(raw.subarray(i * k, (i + 1) * k)) : null;
      const rawTop = rawRow ? rawRow.indexOf(Math.max(...rawRow)) : -1;
      if (values.json) {
        console.log(JSON.stringify({ file: f, label: config.classes[top], probabilities: Object.fromEntries(config.classes.map((n, j) => [n, Number(row[j]!.toFixed(6))])), ...(rawRow ? { undefended: config.classes[rawTop] } : {}), ...adapted[i] }));
      } else {
        console.log(`${f}\t${config.classes[top]}\t${row[top]!.toFixed(3)}${rawRow ? `\t(undefended: ${config.classes[rawTop]})` : ''}`);
      }
    });
  }
  // images the classifier does not take as they are: adapted, and said so (stderr keeps stdout parseable)
  const { resized, greyed } = describeAdapted(adaptedAll, h, w);
  if (resized) console.error(`predict: ${resized}${values.json ? ' (their "resizedFrom")' : ''}`);
  if (greyed) console.error(`predict: ${greyed}${values.json ? ' (their "convertedFrom")' : ''}`);
  shutdown();
} catch (e) {
  console.error(`predict: ${(e as Error).message}`);
  code = 1;
}
process.exitCode = code;
