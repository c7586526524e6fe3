import { listExperiments } from '../experiments';
import type { Scale } from '../util/scale';
import { loadRecords } from './store';
import { scatterAccVs } from './figures';
import { renderFigures, type ExportOptions } from './export';
import type { FigureSpec, ResultRecord } from './types';

/**
 * `lightvit figures`: turn stored results into every figure, never training. Each registered experiment's
 * `figures(records)` gets that experiment's records; a cross-paper summary puts every model family on the same
 * axes (accuracy vs params and vs MACs), one pair of figures per dataset and scale so that points share data and
 * training budget.
 */

export interface RenderAllOptions extends Pick<ExportOptions, 'dir' | 'images' | 'log'> {
  paper?: string;
  scale?: Scale;
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
  const withTop1 = records.filter((r) => typeof r.metrics?.top1 === 'number' && typeof r.metrics?.params === 'number');
  const combos = new Map<string, ResultRecord[]>();
  for (const r of withTop1) {
    const k = `${r.dataset}-${r.scale}`;
    if (!combos.has(k)) combos.set(k, []);
    combos.get(k)!.push(r);
  }
  const specs: FigureSpec[] = [];
  for (const [k, recs] of combos) {
    const slug = k.replace(/[^A-Za-z0-9._-]/g, '_');
    const what = `Every model family trained on ${recs[0].dataset} at the ${recs[0].scale} scale`;
    specs.push(
      scatterAccVs({
        id: `summary-acc-vs-params-${slug}`,
        paper: 'kit',
        records: recs,
        x: 'params',
        groupBy: 'paper',
        labelBy: 'variant',
        title: `Top-1 accuracy vs parameters (${recs[0].dataset}, ${recs[0].scale})`,
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
          title: `Top-1 accuracy vs MACs (${recs[0].dataset}, ${recs[0].scale})`,
          caption: `${what}: top-1 accuracy against multiply-accumulates per image; points are means over seeds.`,
        }),
      );
    }
  }
  return specs;
}

/** Build and write every figure from the stored records; returns the files written. */
export async function renderAllFigures(opts: RenderAllOptions = {}): Promise<RenderAllResult> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const records = loadRecords({ paper: opts.paper, scale: opts.scale });
  const specs: FigureSpec[] = [];
  const failed: RenderAllResult['failed'] = [];
  for (const e of listExperiments(opts.paper)) {
    const recs = records.filter((r) => r.experiment === e.id);
    if (!recs.length) continue;
    try {
      specs.push(...e.figures(recs));
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      failed.push({ experiment: e.id, error: msg });
      log(`figures of ${e.id} failed: ${msg.split('\n')[0]}`);
    }
  }
  if (!opts.paper || opts.paper === 'kit') specs.push(...summaryFigures(opts.paper ? loadRecords({ scale: opts.scale }) : records));
  if (!specs.length) {
    log(`no stored results${opts.paper ? ` for paper '${opts.paper}'` : ''}${opts.scale ? ` at scale '${opts.scale}'` : ''}: run experiments first (lightvit reproduce)`);
    return { files: [], specs, failed };
  }
  const seen = new Set<string>();
  for (const s of specs) {
    const k = `${s.paper}/${s.id}`;
    if (seen.has(k)) log(`two figures are named ${k}; the later one overwrites the earlier`);
    seen.add(k);
  }
  const written = await renderFigures(specs, { dir: opts.dir, images: opts.images, log });
  const files = written.flatMap((w) => [w.html, w.json, ...(w.png ? [w.png] : []), ...(w.svg ? [w.svg] : [])]);
  return { files, specs, failed };
}
