/**
 * Every paper's experiments, registered on import: each file calls `registerPaper` once and `registerExperiment`
 * per experiment. Add a paper's file below; nothing else lists papers.
 */
import './mlit';
import './mae';
import './mobile-vmoe';
import './dwnet';
import './eit';
import { listPapers } from './registry';
export * from './registry';
export * from './types';
export * from './claims';

/** Each paper's main quick-scale model (name + overrides), in registration order: what `lightvit bench` measures. */
export const MAIN_QUICK_MODELS: ReadonlyArray<{ paper: string; model: string; overrides: Record<string, unknown> }> =
  listPapers()
    .filter((p) => p.mainQuickModel)
    .map((p) => ({ paper: p.arxiv, model: p.mainQuickModel!.model, overrides: p.mainQuickModel!.overrides }));
