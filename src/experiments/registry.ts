import { UnknownNameError } from '../util/errors';
import type { Experiment, PaperId, PaperSpec } from './types';

/**
 * Paper files call registerPaper once and registerExperiment per experiment at import; src/experiments/index.ts
 * imports them all.
 */
const PAPER_SPECS = new Map<string, PaperSpec>();
const EXPERIMENTS = new Map<string, Experiment>();

/** Register a paper (once, in its experiments file). Its id must be new and look like 'mobile-vmoe'. */
export function registerPaper(p: PaperSpec): PaperSpec {
  if (!/^[a-z][a-z0-9-]*$/.test(p.id))
    throw new Error(`paper id '${p.id}': expected lower-case letters, digits and '-', e.g. 'mobile-vmoe'`);
  if (PAPER_SPECS.has(p.id)) throw new Error(`paper '${p.id}' registered twice`);
  if (!/\.ipynb$/.test(p.notebook))
    throw new Error(`paper '${p.id}': notebook '${p.notebook}' should be a file name ending in .ipynb`);
  PAPER_SPECS.set(p.id, p);
  return p;
}

/** Registered papers in registration order; `withKit: false` leaves out the shared 'kit' entry. */
export function listPapers(opts: { withKit?: boolean } = {}): PaperSpec[] {
  return [...PAPER_SPECS.values()].filter((p) => opts.withKit !== false || p.id !== 'kit');
}

export function getPaper(id: string): PaperSpec {
  const p = PAPER_SPECS.get(id);
  if (!p) throw new UnknownNameError('paper', id, [...PAPER_SPECS.keys()]);
  return p;
}

export function registerExperiment(e: Experiment): Experiment {
  if (EXPERIMENTS.has(e.id)) throw new Error(`experiment '${e.id}' registered twice`);
  if (!PAPER_SPECS.has(e.paper)) {
    throw new Error(
      `experiment '${e.id}': paper '${e.paper}' is not registered (call registerPaper({ id: '${e.paper}', ... ` +
        `}) first)`,
    );
  }
  EXPERIMENTS.set(e.id, e);
  return e;
}

export function listExperiments(paper?: PaperId | string): Experiment[] {
  return [...EXPERIMENTS.values()].filter((e) => !paper || e.paper === paper);
}

export function getExperiment(id: string): Experiment {
  const e = EXPERIMENTS.get(id);
  if (!e) throw new UnknownNameError('experiment', id, [...EXPERIMENTS.keys()]);
  return e;
}

/** What every paper shares (the linear reference, the cross-paper summary figures): not a paper of its own. */
registerPaper({ id: 'kit', title: 'Baselines shared by every paper', arxiv: '', notebook: '00-getting-started.ipynb' });
