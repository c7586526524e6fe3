/** Progress of a training run, as the trainer reports it to a sink (terminal bar, notebook display, tests). */
export interface TrainProgress {
  phase: 'train' | 'eval';
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  lr: number;
  imgPerS: number;
  etaS: number;
  label?: string;
}
export type ProgressSink = (p: TrainProgress) => void;

export function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/**
 * A one-line progress bar on stderr. On a TTY it redraws in place; otherwise (CI, pipes) it prints at most one
 * line every `intervalS` seconds and at the end, so logs stay short.
 */
export class ProgressBar {
  private last = 0;
  private readonly tty: boolean;
  constructor(
    private readonly opts: { width?: number; intervalS?: number; stream?: NodeJS.WriteStream } = {},
  ) {
    this.tty = !!(opts.stream ?? process.stderr).isTTY;
  }

  render(label: string, done: number, total: number, extra = ''): void {
    const stream = this.opts.stream ?? process.stderr;
    const now = Date.now();
    const finished = done >= total;
    if (!finished && now - this.last < (this.tty ? 100 : (this.opts.intervalS ?? 10) * 1000)) return;
    this.last = now;
    const w = this.opts.width ?? 24;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(frac * w);
    const bar = '█'.repeat(filled) + '░'.repeat(w - filled);
    const line = `${label} ${bar} ${(100 * frac).toFixed(0).padStart(3)}% ${extra}`;
    if (this.tty) stream.write(`\r\x1b[2K${line}${finished ? '\n' : ''}`);
    else stream.write(line + '\n');
  }

  /** A ProgressSink drawing this bar. */
  sink(label = ''): ProgressSink {
    return (p) => {
      const total = p.epochs * p.steps;
      const done = (p.epoch - 1) * p.steps + p.step;
      this.render(
        `${label}${label ? ' ' : ''}ep ${p.epoch}/${p.epochs}`,
        p.phase === 'eval' ? total : done,
        total,
        `loss ${p.loss.toFixed(3)} · ${p.imgPerS.toFixed(1)} img/s · ETA ${fmtDuration(p.etaS)}${p.phase === 'eval' ? ' · eval' : ''}`,
      );
    };
  }
}
