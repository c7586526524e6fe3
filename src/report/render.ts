import type { Experiment } from '../experiments/types';
import type { Scale } from '../util/scale';
import { loadRecords } from './store';
import { datasetTitle, scatterAccVs } from './figures';
import { renderFigures, type ExportOptions } from './export';
import type { FigureSpec, ResultRecord } from './types';

/**
 * `lightvit figures`: turn stored results into every figure, never training. The caller hands over the experiments
 * (the CLI passes `listExperiments()`; this module does not import the registry, which imports the figure builders).
 * Each experiment's `figures(records)` gets that experiment's records of ONE scale at a time, so that runs of
 * different scales are never averaged as if they were seeds: the largest scale present keeps the figure ids, the
 * others get `-<scale>` appended. A cross-paper summary puts every model family on the same axes (accuracy vs params
 * and vs MACs), one pair of figures per dataset and scale so that points share data and training budget.
 */

export interface RenderAllOptions extends Pick<ExportOptions, 'dir' | 'images' | 'log' | 'selfContained'> {
  /** The experiments to draw (e.g. `listExperiments()`), filtered by `paper` here. */
  experiments: ReadonlyArray<Pick<Experiment, 'id' | 'paper' | 'figures'>>;
  paper?: string;
  scale?: Scale;
}

const SCALE_ORDER: Scale[] = ['paper', 'quick', 'smoke'];

/** Records split by scale, largest scale first. */
export function byScale(records: ResultRecord[]): Array<{ scale: Scale; records: ResultRecord[] }> {
  const scales = [...new Set(records.map((r) => r.scale))].sort(
    (a, b) => SCALE_ORDER.indexOf(a) - SCALE_ORDER.indexOf(b),
  );
  return scales.map((scale) => ({ scale, records: records.filter((r) => r.scale === scale) }));
}

/**
 * One experiment's figures, drawn once per scale present: the largest scale under the experiment's own ids, every
 * other scale with `-<scale>` appended to each id.
 */
export function experimentFigures(e: Pick<Experiment, 'figures'>, records: ResultRecord[]): FigureSpec[] {
  return byScale(records).flatMap(({ scale, records: recs }, i) =>
    e.figures(recs).map((f) => (i === 0 ? f : { ...f, id: `${f.id}-${scale}` })),
  );
}

export interface RenderAllResult {
  /** Every file written (html, json, png, svg). */
  files: string[];
  specs: FigureSpec[];
  /** Experiments whose figures() threw, with the message. */
  failed: Array<{ experiment: string; error: string }>;
}

/** The cross-paper summary figures for records with a top-1 accuracy, per (dataset, scale). */
export function summaryFigures(records: ResultRecord[]): FigureSpec[] {
  // the shared linear classifier (paper 'kit') is a reference, not a model family: a short label and legend entry
  const withTop1 = records
    .filter((r) => typeof r.metrics?.top1 === 'number' && typeof r.metrics?.params === 'number')
    .map((r) => (r.model === 'linear' ? { ...r, paper: 'reference', variant: 'linear on raw pixels' } : r));
  const combos = new Map<string, ResultRecord[]>();
  for (const r of withTop1) {
    const k = `${r.dataset}-${r.scale}`;
    if (!combos.has(k)) combos.set(k, []);
    combos.get(k)!.push(r);
  }
  const specs: FigureSpec[] = [];
  for (const [k, recs] of combos) {
    const slug = k.replace(/[^A-Za-z0-9._-]/g, '_');
    const ds = datasetTitle(recs[0].dataset);
    const what = `Every model family trained on ${ds} at the ${recs[0].scale} scale`;
    specs.push(
      scatterAccVs({
        id: `summary-acc-vs-params-${slug}`,
        paper: 'kit',
        records: recs,
        x: 'params',
        groupBy: 'paper',
        labelBy: 'variant',
        title: `Top-1 accuracy vs parameters (${ds}, ${recs[0].scale} scale)`,
        caption: `${what}: top-1 accuracy against parameters; points are means over seeds.`,
      }),
    );
    if (recs.some((r) => typeof r.metrics.macs === 'number')) {
      specs.push(
        scatterAccVs({
          id: `summary-acc-vs-macs-${slug}`,
          paper: 'kit',
          records: recs.filter((r) => typeof r.metrics.macs === 'number'),
          x: 'macs',
          groupBy: 'paper',
          labelBy: 'variant',
          title: `Top-1 accuracy vs MACs (${ds}, ${recs[0].scale} scale)`,
          caption: `${what}: top-1 accuracy against multiply-accumulates per image; points are means over seeds.`,
        }),
      );
    }
  }
  return specs;
}

/** Build and write every figure from the stored records; returns the files written. */
export async function renderAllFigures(opts: RenderAllOptions): Promise<RenderAllResult> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const records = loadRecords({ paper: opts.paper, scale: opts.scale });
  const specs: FigureSpec[] = [];
  const failed: RenderAllResult['failed'] = [];
  for (const e of opts.experiments.filter((x) => !opts.paper || x.paper === opts.paper)) {
    const recs = records.filter((r) => r.experiment === e.id);
    if (!recs.length) continue;
    try {
      specs.push(...experimentFigures(e, recs));
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      failed.push({ experiment: e.id, error: msg });
      log(`figures of ${e.id} failed: ${msg.split('\n')[0]}`);
    }
  }
  if (!opts.paper || opts.paper === 'kit')
    specs.push(...summaryFigures(opts.paper ? loadRecords({ scale: opts.scale }) : records));
  if (!specs.length) {
    const which = `${opts.paper ? ` for paper '${opts.paper}'` : ''}${opts.scale ? ` at scale '${opts.scale}'` : ''}`;
    log(`no stored results${which}: run experiments first (lightvit reproduce)`);
    return { files: [], specs, failed };
  }
  const seen = new Set<string>();
  for (const s of specs) {
    const k = `${s.paper}/${s.id}`;
    if (seen.has(k)) log(`two figures are named ${k}; the later one overwrites the earlier`);
    seen.add(k);
  }
  const written = await renderFigures(specs, {
    dir: opts.dir,
    images: opts.images,
    log,
    selfContained: opts.selfContained,
  });
  const files = written.flatMap((w) => [w.html, w.json, ...(w.png ? [w.png] : []), ...(w.svg ? [w.svg] : [])]);
  return { files, specs, failed };
}
