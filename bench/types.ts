/** A benchmark case: `run()` records GPU work (no awaits); the harness syncs and times it. */
export interface BenchCase {
  /** row label, e.g. "conv2d fwd 64ch@32² N64" */
  name: string;
  /** work per run(): floating-point operations (for GFLOP/s) */
  flops?: number;
  /** bytes moved per run() (for GB/s) */
  bytes?: number;
  /** images processed per run() (for images/s) */
  images?: number;
  /** the same work in a peer engine, for `--peer tfjs` / `--peer torch` (bench/peers/tfjs.ts, bench/peers/torch/bench.py) */
  peerKey?: string;
  /** a slow row run only when a FILTER names it (not in the default set) */
  onlyWhenNamed?: boolean;
  /** false when this adapter cannot run the case (checked after the runtime starts; the row is skipped with a note) */
  available?(): boolean;
  /** allocate inputs; called once */
  setup(): void | Promise<void>;
  /** record the work once */
  run(): void;
  /** free everything */
  teardown(): void;
}
