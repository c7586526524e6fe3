import { describe, it, expect } from 'vitest';
import { ProgressBar, type TrainProgress } from '../src/train/progress';

/** A stream that records writes; `isTTY` as asked. */
function fakeStream(tty: boolean): NodeJS.WriteStream & { text: () => string } {
  const chunks: string[] = [];
  return {
    isTTY: tty,
    write: (s: string) => {
      chunks.push(s);
      return true;
    },
    text: () => chunks.join(''),
  } as unknown as NodeJS.WriteStream & { text: () => string };
}

/** What the trainer reports for 2 epochs of 3 steps with an evaluation after each epoch, then 'done'. */
function run(): TrainProgress[] {
  const out: TrainProgress[] = [];
  const base = { epochs: 2, steps: 3, loss: 1, lr: 1e-3, imgPerS: 100, evaluates: true };
  for (let e = 1; e <= 2; e++) {
    for (let s = 1; s <= 3; s++)
      out.push({ ...base, phase: 'train', epoch: e, step: s, etaS: 100 - (e - 1) * 40 - s * 10 });
    out.push({ ...base, phase: 'eval', epoch: e, step: 3, etaS: e === 1 ? 55 : 5 });
  }
  out.push({ ...base, phase: 'done', epoch: 2, step: 3, etaS: 0 });
  return out;
}

describe('training progress bar', () => {
  it('TTY: evaluation is its own phase (no jump to 100 %, ETA of the rest of the run), one final line', () => {
    const s = fakeStream(true);
    const sink = new ProgressBar({ stream: s }).sink('m');
    for (const p of run()) sink(p);
    const frames = s.text().split('\r\x1b[2K').filter(Boolean);
    const evals = frames.filter((f) => / eval /.test(f));
    expect(evals.length).toBeGreaterThan(0);
    for (const f of evals) expect(f).not.toMatch(/100%/);
    expect(evals[0]).toMatch(/ep 1\/2 eval .* 38% .*ETA 55s/); // 3 of 8 units: 2 × (3 steps + 1 evaluation)
    expect(
      s
        .text()
        .split('\n')
        .filter((l) => l.trim()),
    ).toHaveLength(1); // the line ends once, at the end
    expect(frames[frames.length - 1]).toMatch(/m done 2\/2 .*100%.*\n$/);
    expect(s.text().match(/100%/g)).toHaveLength(1);
  });

  it('non-TTY: one line per evaluation and one at the end, the last epoch not printed twice', () => {
    const s = fakeStream(false);
    const sink = new ProgressBar({ stream: s, intervalS: 3600 }).sink('m');
    for (const p of run()) sink(p);
    const lines = s.text().split('\n').filter(Boolean);
    expect(lines.filter((l) => /ep 2\/2 eval/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /100%/.test(l))).toHaveLength(1);
    expect(lines[lines.length - 1]).toMatch(/m done 2\/2/);
    expect(lines.find((l) => /ep 2\/2 eval/.test(l))).toMatch(/ETA 5s/);
  });
});
