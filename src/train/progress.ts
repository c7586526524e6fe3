/** Progress of a training run, as the trainer reports it to a sink (terminal bar, notebook display, tests). */
export interface TrainProgress {
  /** 'train' after each step, 'eval' when an epoch's evaluation starts, 'done' once at the end of the run. */
  phase: 'train' | 'eval' | 'done';
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  lr: number;
  imgPerS: number;
  /** Seconds left in the whole run: remaining training steps and remaining evaluations. */
  etaS: number;
  /** Whether each epoch ends with an evaluation (the bar counts it as one unit of work per epoch). */
  evaluates?: boolean;
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
  constructor(private readonly opts: { width?: number; intervalS?: number; stream?: NodeJS.WriteStream } = {}) {
    this.tty = !!(opts.stream ?? process.stderr).isTTY;
  }

  /** Draw the bar; `final` (default: done ≥ total) ends its line and is never throttled. */
  render(label: string, done: number, total: number, extra = '', final = done >= total): void {
    const stream = this.opts.stream ?? process.stderr;
    const now = Date.now();
    const finished = final;
    if (!finished && now - this.last < (this.tty ? 100 : (this.opts.intervalS ?? 10) * 1000)) return;
    this.last = now;
    const w = this.opts.width ?? 24;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(frac * w);
    const bar = '█'.repeat(filled) + '░'.repeat(w - filled);
    const line = `${label} ${bar} ${(100 * frac).toFixed(0).padStart(3)}% ${extra}`;
    if (this.tty) stream.write(`\r\x1b[2K${line}${finished ? '\n' : ''}`);
    else stream.write(`${line}\n`);
  }

  /**
   * A ProgressSink drawing this bar: the fraction of training steps done, the ETA of the whole run (evaluations
   * included), and each epoch's evaluation as its own phase (`eval`, the bar where training left it). The line ends
   * once, when the run is done.
   */
  sink(label = ''): ProgressSink {
    let lastPhase = '';
    return (p) => {
      // units of work: each training step, and each epoch's evaluation as one more
      const perEpoch = p.steps + (p.evaluates ? 1 : 0);
      const total = p.epochs * perEpoch;
      const done = Math.min(total, (p.epoch - 1) * perEpoch + p.step);
      const head = `${label}${label ? ' ' : ''}`;
      if (p.phase !== lastPhase) this.last = 0; // a new phase is always drawn
      lastPhase = p.phase;
      if (p.phase === 'done') {
        this.render(`${head}done ${p.epochs}/${p.epochs}`, total, total, `${p.imgPerS.toFixed(1)} img/s`, true);
        return;
      }
      this.render(
        `${head}ep ${p.epoch}/${p.epochs}${p.phase === 'eval' ? ' eval' : ''}`,
        done,
        total,
        `loss ${Number.isFinite(p.loss) ? p.loss.toFixed(3) : 'n/a'} · ${p.imgPerS.toFixed(1)} img/s · ETA ` +
          `${fmtDuration(p.etaS)}`,
        false,
      );
    };
  }
}
