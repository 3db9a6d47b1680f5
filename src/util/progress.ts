/**
 * Progress reporting for long work (downloads, epochs): a live bar on a terminal (cli-progress),
 * plain lines every few seconds otherwise (CI logs, files).
 */
import cliProgress from 'cli-progress';

/**
 * Rates and ETAs count from the first update: a resumed epoch's first update already stands at the
 * step it resumed from, and the steps before it were not done by this process.
 */
export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private lastLine = 0;
  /** the first update's value and time (null before it) */
  private base: { value: number; time: number } | null = null;

  constructor(
    private label: string,
    private total?: number,
    private unit: 'bytes' | 'items' = 'items',
  ) {
    if (process.stderr.isTTY && total) {
      this.bar = new cliProgress.SingleBar(
        {
          format: `${label} [{bar}] {percentage}% | {value_h}/{total_h} | {rate} | ETA {eta_formatted} {extra}`,
          stream: process.stderr,
          hideCursor: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  private fmt(v: number): string {
    if (this.unit !== 'bytes') return String(v);
    if (v >= 1 << 30) return `${(v / (1 << 30)).toFixed(2)} GiB`;
    if (v >= 1 << 20) return `${(v / (1 << 20)).toFixed(1)} MiB`;
    return `${(v / 1024).toFixed(0)} KiB`;
  }

  /** `extra`: free text shown after the bar (loss, accuracy, ...) */
  update(value: number, extra = ''): void {
    const now = Date.now();
    if (!this.base) {
      this.base = { value, time: now };
      // the bar starts here, at the value the work resumed from (its ETA buffer never sees a jump)
      this.bar?.start(this.total ?? 0, value, { value_h: this.fmt(value), total_h: this.fmt(this.total ?? 0), rate: '', extra });
    }
    const secs = (now - this.base.time) / 1000;
    const done = value - this.base.value;
    const perSec = secs > 0 && done > 0 ? done / secs : 0;
    const rate = perSec > 0 ? (this.unit === 'bytes' ? `${this.fmt(Math.round(perSec))}/s` : `${perSec.toFixed(2)} it/s`) : '';
    if (this.bar) {
      this.bar.update(value, { value_h: this.fmt(value), total_h: this.fmt(this.total ?? 0), rate, extra });
      return;
    }
    if (now - this.lastLine > 5000 || (this.total && value >= this.total)) {
      this.lastLine = now;
      const pct = this.total ? ` ${((100 * value) / this.total).toFixed(1)}%` : '';
      const eta = this.total && perSec > 0 ? ` ETA ${Math.round((this.total - value) / perSec)}s` : '';
      console.error(`${this.label}:${pct} ${this.fmt(value)}${this.total ? `/${this.fmt(this.total)}` : ''} ${rate}${eta} ${extra}`.trimEnd());
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
