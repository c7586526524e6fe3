import type { Scale } from '../util/scale';
import type { EpochMetrics } from '../train/types';

/** One training/evaluation run as stored in data/results/results.jsonl (append-only). */
export interface ResultRecord {
  /** Experiment id ('mlit.scratch'), paper id, and a label for the variant within the experiment. */
  experiment: string;
  paper: string;
  variant: string;
  scale: Scale;
  dataset: string;
  synthetic: boolean;
  model: string;
  config: Record<string, unknown>;
  seed: number;
  backend: string;
  versions: Record<string, string>;
  /** Final metrics: top1, top5, loss, params, activeParams, macs, macsWithoutAttention, imgPerS, ... */
  metrics: Record<string, number>;
  history?: EpochMetrics[];
  /** Anything else a figure needs (routing matrices, attention distances, reconstructions as small arrays). */
  extra?: Record<string, unknown>;
  wallTimeS: number;
  timestamp: string;
  /** Identity of the run for skipping re-runs: experiment|variant|scale|dataset|seed. */
  key: string;
}

/** A figure as data: a plotly figure plus where it goes and what it says. */
export interface FigureSpec {
  /** File stem under figures/<paper>/, e.g. 'mlit-acc-vs-params'. */
  id: string;
  paper: string;
  title: string;
  /** Caption naming the dataset and scale, and "synthetic data" when it is. */
  caption: string;
  data: Array<Record<string, unknown>>;
  layout: Record<string, unknown>;
}
