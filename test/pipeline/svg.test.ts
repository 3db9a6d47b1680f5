import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PNG } from 'pngjs';
import { axisNumber, linePlot, niceTicks, Svg } from '../../src/pipeline/svg.js';

/** Every <text> of a document: its anchor point, anchor and content. */
function texts(doc: string): { x: number; y: number; anchor: string; s: string }[] {
  return [...doc.matchAll(/<text x="([-\d.]+)" y="([-\d.]+)"[^>]*?(?:text-anchor="(\w+)")?[^>]*>([^<]*)<\/text>/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]), anchor: m[3] ?? 'start', s: m[4]! }));
}

test('niceTicks: multiples of 1, 2 or 5 × 10^k inside the range', () => {
  assert.equal(niceTicks(0, 100, 4), [0, 50, 100]);
  assert.equal(niceTicks(0, 780, 5), [0, 200, 400, 600]);
  assert.equal(niceTicks(0.43, 0.86, 4), [0.6, 0.8]);
  assert.equal(niceTicks(3, 3), [3]);
  assert.is(axisNumber(0.30000000000000004), '0.3');
  assert.is(axisNumber(25000), '2.5e+4');
});

test('text is escaped; the document is one <svg> with a title', () => {
  const svg = new Svg(100, 50);
  svg.text('a < b & "c"', 10, 20);
  const doc = svg.toString('T & U');
  assert.ok(doc.includes('a &lt; b &amp; &quot;c&quot;'));
  assert.ok(doc.includes('<title>T &amp; U</title>'));
  assert.is(doc.match(/<svg /g)!.length, 1);
  assert.ok(doc.trim().endsWith('</svg>'));
});

test('image: an embedded PNG with the pixels given (grey to RGB), scaled without smoothing', () => {
  const svg = new Svg(20, 20);
  svg.image({ h: 2, w: 3, c: 1, data: Uint8Array.from([0, 10, 20, 30, 40, 255]) }, 1, 2, 4);
  const doc = svg.toString();
  const m = doc.match(/<image x="1" y="2" width="12" height="8" image-rendering="pixelated"[^>]*href="data:image\/png;base64,([^"]+)"/);
  assert.ok(m, doc);
  const png = PNG.sync.read(Buffer.from(m![1]!, 'base64'));
  assert.is(png.width, 3);
  assert.is(png.height, 2);
  assert.equal([...png.data.subarray(4 * 4, 4 * 5)], [40, 40, 40, 255]);
});

test('linePlot: every label inside the panel, NaN points skipped, legend rows wrap', () => {
  const W = 300;
  const H = 240;
  const svg = new Svg(2 * W, H);
  const long = Array.from({ length: 6 }, (_, i) => ({ label: `a fairly long series name ${i}`, color: '#000000', points: [[0, 10 * i], [50, NaN], [780, 90 - i]] as [number, number][] }));
  linePlot(svg, W, 0, W, H, 'BA (%)', long, { yMin: 0, yMax: 100, xLabel: 'optimizer step', yLabel: 'percent' });
  const doc = svg.toString();
  const ts = texts(doc);
  for (const s of ['BA (%)', 'optimizer step', '0', '100', '600', 'a fairly long series name 5']) assert.ok(ts.some((t) => t.s === s), `missing label '${s}'`);
  for (const t of ts) {
    // approximate extent of the text from its anchor (0.6 em per character, 11-13 px fonts)
    const wText = t.s.length * 13 * 0.6;
    const x0 = t.anchor === 'middle' ? t.x - wText / 2 : t.anchor === 'end' ? t.x - wText : t.x;
    assert.ok(x0 >= W - 1 && x0 + (t.anchor === 'start' ? t.s.length * 11 * 0.6 : wText) <= 2 * W + 1, `'${t.s}' leaves the panel horizontally (x ${t.x})`);
    assert.ok(t.y >= 10 && t.y <= H, `'${t.s}' leaves the panel vertically (y ${t.y})`);
  }
  // six legend entries of ~170 px cannot share one 300-px row
  const legendYs = new Set(ts.filter((t) => t.s.startsWith('a fairly')).map((t) => t.y));
  assert.ok(legendYs.size >= 3, `legend rows: ${legendYs.size}`);
  // the NaN point is skipped: each polyline of a series has its two finite points only
  const lines = [...doc.matchAll(/<polyline points="([^"]+)"/g)].map((m) => m[1]!.split(' ').length);
  assert.ok(lines.includes(2));
  assert.not.ok(doc.includes('NaN'));
});

test.run();
