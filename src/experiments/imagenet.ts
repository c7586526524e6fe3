import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Scale } from '../util/scale';
import { officialRecipe, type OfficialRecipeName } from '../train/recipes';
import type { Recipe } from '../train/types';
import { IMAGENET_STORE_SIZE } from '../data/folder';
import type { FigureSpec, ResultRecord } from '../report/types';
import { ablationBars } from '../report/figures';
import { registerExperiment } from './registry';
import { runClassifier, type RunSpec } from './common';
import type { Experiment, ExperimentRunContext, PaperId } from './types';

/**
 * The ImageNet paper scale of the three ImageNet papers (DWNet, EIT, Mobile V-MoE): their ImageNet-1k models and
 * official recipes on an ImageNet-style folder (`train/` and `val/`, one sub-folder per class, the papers' resize
 * to 256 and 224² crops), streamed from disk one batch at a time. The folder comes from `--data folder:<path>` or
 * `$LIGHTVIT_IMAGENET`; without one, the experiment says so in one line and runs nothing. Below paper scale the same
 * pipeline runs on stand-ins of each family: smoke stores 32² and crops 28² (the tests' generated folder), quick
 * uses the first 10 classes of the folder (sorted by name, e.g. ten ImageNet synsets) at 64² → 56² for 3 epochs
 * over at most 3,000 images, so a CPU user sees the recipe run on their own data in minutes. Neither is comparable
 * with the papers' numbers; paper scale is the papers' recipe, for a GPU and days.
 */

/** Environment variable naming the ImageNet-style folder when `--data folder:<path>` is not given. */
export const IMAGENET_ENV = 'LIGHTVIT_IMAGENET';

/** The folder dataset name (`folder:<path>`) an ImageNet study trains on, or '' when none is given. */
export function imagenetFolder(ctx: Pick<ExperimentRunContext, 'data'>, env = process.env): string {
  if (ctx.data) return ctx.data.startsWith('folder:') ? ctx.data : '';
  const p = env[IMAGENET_ENV];
  return p ? `folder:${p}` : '';
}

/**
 * What is wrong with an ImageNet-style folder, or '' when it has `train/` and `val/` (or `test/`): the folder may be
 * a plain class folder the other experiments read, so this is a reason to skip, not an error.
 */
export function imagenetFolderProblem(name: string): string {
  const root = path.resolve(name.slice('folder:'.length));
  const has = (d: string) => fs.existsSync(path.join(root, d)) && fs.statSync(path.join(root, d)).isDirectory();
  if (has('train') && (has('val') || has('test'))) return '';
  return (
    `${root} has no train/ and val/ sub-folders (expected ImageNet's layout: train/<class>/*.JPEG, ` +
    `val/<class>/*.JPEG)`
  );
}

/** Stored side, crop side and class cap per scale (the crop ratio stays the papers' 224/256). */
export function imagenetGeometry(scale: Scale): { store: number; crop: number; maxClasses: number } {
  if (scale === 'smoke') return { store: 32, crop: 28, maxClasses: 0 };
  if (scale === 'quick') return { store: 64, crop: 56, maxClasses: 10 };
  return { store: IMAGENET_STORE_SIZE, crop: 224, maxClasses: 0 };
}

/** The paper's ImageNet recipe (`officialRecipe(name, { input: 'imagenet' })`), with the scale's caps below paper. */
export function imagenetRecipe(name: OfficialRecipeName, scale: Scale): Recipe {
  if (scale === 'paper') return officialRecipe(name, { input: 'imagenet' });
  const smoke = scale === 'smoke';
  const batchSize = smoke ? 8 : 32;
  return {
    ...officialRecipe(name, { input: 'imagenet', batchSize }),
    epochs: smoke ? 1 : 3,
    warmupEpochs: smoke ? 0 : 0.5,
    maxStepsPerEpoch: smoke ? 2 : 0,
    trainSubset: smoke ? 64 : 3000,
    maxEvalImages: smoke ? 16 : 1000,
    // the papers' 300-epoch averaging window would keep the untrained weights at these budgets
    ...(officialRecipe(name).emaDecay ? { emaDecay: smoke ? 0.5 : 0.99 } : {}),
  };
}

/** One model of an ImageNet study. */
export interface ImagenetArm {
  variant: string;
  model: string;
  overrides?: Record<string, unknown>;
  /** Overrides that depend on the arms already run in this study (their records, in order), e.g. super-classes. */
  overridesFrom?: (done: ResultRecord[], numClasses: number) => Record<string, unknown>;
  /** Extra RunSpec fields (hold-out, analysis). */
  spec?: Partial<RunSpec>;
}

export interface ImagenetStudy {
  paper: PaperId;
  recipe: OfficialRecipeName;
  title: string;
  /** The arms at a scale: the paper's ImageNet models at paper scale, same-family stand-ins below it. */
  arms(scale: Scale): ImagenetArm[];
  /** What the paper reports on ImageNet-1k for these models (figure caption; labelled as the paper's). */
  reported: string;
}

function imagenetFigures(id: string, study: ImagenetStudy, records: ResultRecord[]): FigureSpec[] {
  const mine = records.filter((r) => r.experiment === id);
  for (const scale of ['paper', 'quick', 'smoke'] as Scale[]) {
    const at = mine.filter((r) => r.scale === scale);
    if (!at.length) continue;
    const g = imagenetGeometry(scale);
    const what =
      scale === 'paper'
        ? `the paper's ImageNet models and recipe at ${g.crop}²`
        : `stand-ins of each family at ${g.crop}² crops of ${g.store}² images` +
          (g.maxClasses ? `, first ${g.maxClasses} classes of the folder` : '');
    return [
      ablationBars({
        id: `${id.replace('.', '-')}-top1`,
        paper: study.paper,
        records: at,
        groupBy: 'variant',
        metric: 'top1',
        title: `${study.title}: top-1 on the folder's val/ split`,
        caption:
          `Top-1 on the ImageNet-style folder's val/ split (${scale} scale: ${what}). ` +
          `For comparison only at paper scale on ImageNet-1k: ${study.reported}`,
      }),
    ];
  }
  return [];
}

const STUDIES = new Map<string, ImagenetStudy>();

/** The arms `<paper>.imagenet` runs at a scale, in order (what its plan counts and its figure shows). */
export function imagenetStudyArms(id: string, scale: Scale): ImagenetArm[] {
  const study = STUDIES.get(id);
  if (!study) throw new Error(`no ImageNet study '${id}'; expected one of ${[...STUDIES.keys()].join(', ')}`);
  return study.arms(scale);
}

/** Register `<paper>.imagenet`: the study's arms, in order, on the ImageNet-style folder at each scale. */
export function registerImagenetStudy(study: ImagenetStudy): Experiment {
  const id = `${study.paper}.imagenet`;
  STUDIES.set(id, study);
  return registerExperiment({
    id,
    paper: study.paper,
    title: `${study.title} on ImageNet (paper scale: the ImageNet-1k models and recipe)`,
    plan: (scale) => ({
      runs: study.arms(scale).length,
      description: `${study
        .arms(scale)
        .map((a) => a.variant)
        .join(', ')} on an ImageNet-style folder`,
    }),
    async run(ctx) {
      const arms = study.arms(ctx.scale);
      const dataset = imagenetFolder(ctx);
      if (!dataset) {
        ctx.log(
          `  ${id}: skipped, no ImageNet-style folder (pass --data folder:<path> with train/ and val/, or set ` +
            `${IMAGENET_ENV}=<path>)`,
        );
        for (const _ of arms) ctx.onRunDone?.();
        return;
      }
      const problem = imagenetFolderProblem(dataset);
      if (problem) {
        ctx.log(`  ${id}: skipped, ${problem}`);
        for (const _ of arms) ctx.onRunDone?.();
        return;
      }
      const g = imagenetGeometry(ctx.scale);
      const load = { imageSize: g.store, stream: true, ...(g.maxClasses ? { maxClasses: g.maxClasses } : {}) };
      const done: ResultRecord[] = [];
      for (const arm of arms) {
        const numClasses = done[0]?.config?.numClasses as number | undefined;
        const rec = await runClassifier(ctx, {
          experiment: id,
          paper: study.paper,
          variant: arm.variant,
          model: arm.model,
          overrides: {
            imageSize: g.crop,
            ...(arm.overrides ?? {}),
            ...(arm.overridesFrom ? arm.overridesFrom(done, numClasses ?? 0) : {}),
          },
          dataset,
          load,
          seed: ctx.seed,
          recipe: (scale) => imagenetRecipe(study.recipe, scale),
          ...(arm.spec ?? {}),
        });
        done.push(rec);
      }
    },
    figures: (records) => imagenetFigures(id, study, records),
  });
}
