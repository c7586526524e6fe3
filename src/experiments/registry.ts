import { UnknownNameError } from '../util/errors';
import type { Experiment, PaperId } from './types';

/** Paper files call registerExperiment at import; src/experiments/index.ts imports them all. */
const EXPERIMENTS = new Map<string, Experiment>();

export function registerExperiment(e: Experiment): Experiment {
  if (EXPERIMENTS.has(e.id)) throw new Error(`experiment '${e.id}' registered twice`);
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

export const PAPERS: Record<PaperId, { title: string; arxiv: string; notebook: string }> = {
  kit: { title: 'Baselines shared by every paper', arxiv: '', notebook: '00-getting-started.ipynb' },
  mlit: { title: 'How Lightweight Can A Vision Transformer Be (mLiT)', arxiv: '2407.17783', notebook: '01-mlit.ipynb' },
  mae: {
    title: 'Pre-training of Lightweight ViTs on Small Datasets with Minimally Scaled Images (+ mmLiT pre-training)',
    arxiv: '2402.03752',
    notebook: '05-mae-small-images.ipynb',
  },
  'mobile-vmoe': { title: 'Mobile V-MoEs: Scaling Down Vision Transformers via Sparse Mixture-of-Experts', arxiv: '2309.04354', notebook: '03-mobile-vmoe.ipynb' },
  dwnet: { title: 'Demystifying Local Vision Transformer (DWNet)', arxiv: '2106.04263', notebook: '04-local-attention-vs-dwconv.ipynb' },
  eit: { title: 'EIT: Efficiently Lead Inductive Biases to ViT', arxiv: '2203.07116', notebook: '06-eit.ipynb' },
};
