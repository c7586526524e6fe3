import type { Scale } from '../util/scale';
import type { ResultRecord } from '../report/types';
import type { PaperId } from './types';

/**
 * Headline claims of the five papers, stated in the kit's own words, and the rule that turns stored results into a
 * verdict per claim. A claim compares two arms of one experiment (e.g. mLiT with its MoE against the same mLiT with
 * a dense FFN of equal parameters); each arm is a set of stored runs, one per seed. The effect is the mean over
 * seeds of (arm A − arm B) in top-1 accuracy points, paired by seed when both arms ran the same seeds; its spread is
 * the standard deviation of those per-seed differences.
 *
 * Verdict: `inconclusive` when fewer than {@link MIN_SEEDS} seeds ran or |effect| < 2 · std; otherwise `agrees` when
 * the sign is the one the paper claims (A better), `disagrees` when it is the opposite. A `disagrees` is a finding of
 * this run at this budget, reported as such, never tuned away.
 */

export const MIN_SEEDS = 3;

export type Verdict = 'agrees' | 'disagrees' | 'inconclusive';

export interface ClaimSpec {
  /** Stable id, e.g. 'mlit.moe-vs-dense'. */
  id: string;
  paper: PaperId;
  /** One sentence in the kit's words: "A beats B …". The effect is A − B. */
  claim: string;
  experiment: string;
  /**
   * Which stored runs make arm A and arm B: runs whose variant label is this, or whose `extra.claimArm` is (for
   * arms whose variant label changes with the scale, e.g. a model size in the label).
   */
  a: string;
  b: string;
  /** Metric compared (higher is better); default 'top1'. */
  metric?: string;
}

export interface ClaimRow {
  paper: string;
  claim: string;
  dataset: string;
  scale: Scale;
  seeds: number;
  /** Mean over seeds of A − B, in accuracy points (positive: A wins). */
  effect: number;
  std: number;
  verdict: Verdict;
}

const CLAIMS = new Map<string, ClaimSpec>();

/** Experiments files call this at import, next to their registerExperiment. */
export function registerClaim(c: ClaimSpec): ClaimSpec {
  if (CLAIMS.has(c.id)) throw new Error(`claim '${c.id}' registered twice`);
  CLAIMS.set(c.id, c);
  return c;
}

export function listClaims(paper?: string): ClaimSpec[] {
  return [...CLAIMS.values()].filter((c) => !paper || c.paper === paper);
}

/** The verdict rule (see the module comment). */
export function verdictOf(effect: number, std: number, seeds: number): Verdict {
  if (seeds < MIN_SEEDS || !Number.isFinite(effect)) return 'inconclusive';
  if (Math.abs(effect) < 2 * std || effect === 0) return 'inconclusive';
  return effect > 0 ? 'agrees' : 'disagrees';
}

function mean(xs: number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** Sample standard deviation (n − 1); 0 for fewer than two values. */
export function sampleStd(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

/**
 * Effect of one claim on one (dataset, scale): per-seed differences A − B where both arms ran that seed (the newest
 * record of each seed counts, so a re-run replaces its predecessor); when the arms share no seed, the difference of
 * their means with the pooled spread √(sA²/nA + sB²/nB) and the smaller seed count.
 */
export function claimEffect(
  aRuns: ResultRecord[],
  bRuns: ResultRecord[],
  metric = 'top1',
): { effect: number; std: number; seeds: number } {
  const bySeed = (rs: ResultRecord[]) => {
    const m = new Map<number, number>();
    for (const r of [...rs].sort((x, y) => x.timestamp.localeCompare(y.timestamp))) {
      const v = r.metrics?.[metric];
      if (typeof v === 'number' && Number.isFinite(v)) m.set(r.seed, 100 * v);
    }
    return m;
  };
  const a = bySeed(aRuns);
  const b = bySeed(bRuns);
  const shared = [...a.keys()].filter((s) => b.has(s));
  if (shared.length) {
    const d = shared.map((s) => a.get(s)! - b.get(s)!);
    return { effect: mean(d), std: sampleStd(d), seeds: d.length };
  }
  if (!a.size || !b.size) return { effect: NaN, std: NaN, seeds: 0 };
  const av = [...a.values()];
  const bv = [...b.values()];
  const std = Math.sqrt(sampleStd(av) ** 2 / av.length + sampleStd(bv) ** 2 / bv.length);
  return { effect: mean(av) - mean(bv), std, seeds: Math.min(av.length, bv.length) };
}

/**
 * One row per registered claim and (dataset, scale) found among the records: reads stored results only, never
 * trains. Rows come in registration order (paper order), then dataset, then scale.
 */
export function claimRows(records: ResultRecord[], opts: { paper?: string; scale?: Scale } = {}): ClaimRow[] {
  const rows: ClaimRow[] = [];
  for (const c of listClaims(opts.paper)) {
    const recs = records.filter((r) => r.experiment === c.experiment && (!opts.scale || r.scale === opts.scale));
    const combos = [...new Set(recs.map((r) => `${r.dataset}\u0000${r.scale}`))].sort();
    for (const combo of combos) {
      const [dataset, scale] = combo.split('\u0000') as [string, Scale];
      const here = recs.filter((r) => r.dataset === dataset && r.scale === scale);
      const inArm = (r: ResultRecord, arm: string) => r.variant === arm || r.extra?.claimArm === arm;
      const aRuns = here.filter((r) => inArm(r, c.a));
      const bRuns = here.filter((r) => inArm(r, c.b));
      if (!aRuns.length || !bRuns.length) continue;
      const { effect, std, seeds } = claimEffect(aRuns, bRuns, c.metric);
      rows.push({
        paper: c.paper,
        claim: c.claim,
        dataset,
        scale,
        seeds,
        effect,
        std,
        verdict: verdictOf(effect, std, seeds),
      });
    }
  }
  return rows;
}

/** The claims table as text (one line per row), as `lightvit claims` prints it. */
export function formatClaims(rows: ClaimRow[]): string {
  if (!rows.length)
    return "no claims can be evaluated yet: no stored runs of the claims' experiments (run `npm start`)";
  const fmt = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(1)}` : 'n/a');
  const cells = rows.map((r) => [
    r.paper,
    r.claim,
    r.dataset,
    r.scale,
    String(r.seeds),
    fmt(r.effect),
    Number.isFinite(r.std) ? r.std.toFixed(1) : 'n/a',
    r.verdict,
  ]);
  const head = ['paper', 'claim', 'dataset', 'scale', 'seeds', 'effect', 'std', 'verdict'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c
      .map((x, i) => (i === 5 || i === 6 ? x.padStart(widths[i]) : x.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** JSON form: exactly the fields of ClaimRow, one object per line. */
export function claimsJsonLines(rows: ClaimRow[]): string {
  return rows
    .map((r) =>
      JSON.stringify({
        paper: r.paper,
        claim: r.claim,
        dataset: r.dataset,
        scale: r.scale,
        seeds: r.seeds,
        effect: r.effect,
        std: r.std,
        verdict: r.verdict,
      }),
    )
    .join('\n');
}
