import type { Scale } from '../util/scale';
import type { FigureSpec } from '../report/types';
import type { ResultRecord } from '../report/types';
import type { ProgressSink } from '../train/progress';
import type { EpochMetrics } from '../train/types';

/** A registered paper's id (`registerPaper`), e.g. 'mlit'; 'kit' holds what every paper shares. */
export type PaperId = string;

/**
 * Everything the kit needs to know about a paper, given once by `registerPaper` in its experiments file: the CLI's
 * paper choices and help, `reproduce <paper>`, the bench's model list and the notebook and docs checks read it.
 */
export interface PaperSpec {
  /** Short id used on the command line and in records: lower case, digits and '-'. */
  id: string;
  title: string;
  /** arXiv id, e.g. '2407.17783' ('' for the kit's shared baselines). */
  arxiv: string;
  /** The paper's notebook, a file name under notebooks/. */
  notebook: string;
  /** The paper's facts page under docs/, e.g. 'docs/mlit.md'. */
  docs?: string;
  /** The paper's main quick-scale model (registry name + overrides): what `lightvit bench` measures and twins. */
  mainQuickModel?: { model: string; overrides: Record<string, unknown> };
}

export interface ExperimentRunContext {
  scale: Scale;
  /**
   * Use real data where present (CIFAR when downloaded, else Fashion-MNIST for 10-class slots), else synth (see
   * datasetFor).
   */
  preferReal: boolean;
  /**
   * Force one dataset (`--data NAME`) for every run in place of the experiment's choice; unset: the best present
   * (CIFAR when downloaded, else Fashion-MNIST when found, else the synthetic sets).
   */
  data?: string;
  /** Re-run even when results are stored. */
  force: boolean;
  seed: number;
  log(msg: string): void;
  /** Called after each training run finishes or is skipped as stored (drives the overall progress bar). */
  onRunDone?(): void;
  /**
   * A display per training run (label: the run's variant), e.g. a notebook's in-place progress and per-epoch curve
   * (`notebookTrainingDisplay()` from the report module); unset: the terminal progress bar on stderr.
   */
  trainingDisplay?(label: string): { onProgress: ProgressSink; onEpoch?: (m: EpochMetrics) => void };
}

/**
 * One experiment of one paper (a figure's worth of runs). `run` trains and appends ResultRecords to the results
 * store; `figures` turns stored records into figure specs and never trains. Every experiment has all three scales.
 */
export interface Experiment {
  id: string; // e.g. 'mlit.scratch'
  paper: PaperId;
  title: string;
  /** Units of work at a scale (for the overall progress bar), e.g. the number of training runs. */
  plan(scale: Scale): { runs: number; description: string };
  run(ctx: ExperimentRunContext): Promise<void>;
  figures(records: ResultRecord[]): FigureSpec[];
}
