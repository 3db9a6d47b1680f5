/**
 * Progress reporting for long work (downloads, epochs): a live bar on a terminal (cli-progress),
 * plain lines every few seconds otherwise (CI logs, files).
 */
import cliProgress from 'cli-progress';

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private lastLine = 0;
  private start = Date.now();

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
      this.bar.start(total, 0, { value_h: this.fmt(0), total_h: this.fmt(total), rate: '', extra: '' });
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
    const secs = (Date.now() - this.start) / 1000;
    const rate = secs > 0 ? (this.unit === 'bytes' ? `${this.fmt(Math.round(value / secs))}/s` : `${(value / secs).toFixed(2)} it/s`) : '';
    if (this.bar) {
      this.bar.update(value, { value_h: this.fmt(value), total_h: this.fmt(this.total ?? 0), rate, extra });
      return;
    }
    if (Date.now() - this.lastLine > 5000 || (this.total && value >= this.total)) {
      this.lastLine = Date.now();
      const pct = this.total ? ` ${((100 * value) / this.total).toFixed(1)}%` : '';
      const eta = this.total && value > 0 ? ` ETA ${Math.round((secs * (this.total - value)) / value)}s` : '';
      console.error(`${this.label}:${pct} ${this.fmt(value)}${this.total ? `/${this.fmt(this.total)}` : ''} ${rate}${eta} ${extra}`.trimEnd());
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
