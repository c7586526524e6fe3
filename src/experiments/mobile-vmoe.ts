import * as tf from '@tensorflow/tfjs';
import { officialRecipe } from '../train/recipes';
import type { Scale } from '../util/scale';
import type { FigureSpec, ResultRecord } from '../report/types';
import type { ImageDataset } from '../data/types';
import { evalBatches } from '../data/eval-batches';
import type { ClassifierModel } from '../models';
import { MobileVmoe, VMOE_GRID, gridLabel } from '../models/mobile-vmoe';
import { evaluate } from '../train/trainer';
import { countMacs } from '../analysis/count';
import {
  adjustedRandIndex,
  clusterConfusion,
  confusionGraph,
  mergeCoarse,
  randomBalancedGroups,
  superClassCount,
  type Matrix,
} from '../analysis/superclass';
import { TABLEAU_20, scatterAccVs, heatmap, lineChart, ablationBars, barChart, graphFigure } from '../report/figures';
import { caption } from '../report/figures';
import {
  cachedDataset,
  datasetFor,
  runClassifier,
  seedsFor,
  standInLine,
  HEADLINE_SEEDS,
  runReference,
  referenceLines,
  withoutReference,
  type RunSpec,
} from './common';
import { registerClaim } from './claims';
import { registerImagenetStudy } from './imagenet';
import { registerExperiment, registerPaper } from './registry';
import type { ExperimentRunContext } from './types';

/**
 * Mobile V-MoE (arXiv 2309.04354) experiments, three scales each:
 * - `mobile-vmoe.scaling`: dense vs MoE across the L×D grid at equal active MACs (Fig. 1, Fig. 3a);
 * - `mobile-vmoe.ablations`: E, L, k and the routing strategy (Fig. 3b–e), with router accuracy beside accuracy;
 * - `mobile-vmoe.superclasses`: the dataset's own super-classes vs super-classes clustered from a dense model's
 *   confusion (Sec. 2.2), with the adjusted Rand index between the two.
 * CIFAR-100 when downloaded, else synth100 (20 super-classes × 5, like CIFAR-100; results labelled synthetic data).
 * With E = 10 experts and 20 official super-classes, consecutive coarse classes are merged in pairs (spec A.9).
 */

const PAPER = 'mobile-vmoe' as const;

/**
 * Model size per scale. Quick and smoke are scaled-down stand-ins for the paper's models: narrow, and with patch 8
 * (16 tokens instead of 64) so that a paper's worth of runs fits in minutes on a CPU; the
 * variant label says so (`6x64/p8`).
 */
interface Arch {
  depth: number;
  dim: number;
  heads: number;
  /** Extra overrides (patch size) for stand-ins. */
  extra?: Record<string, unknown>;
}

function scalingGrid(scale: Scale): Arch[] {
  if (scale === 'paper') return VMOE_GRID.map((g) => ({ depth: g.depth, dim: g.dim, heads: g.heads }));
  if (scale === 'quick')
    return [
      { depth: 6, dim: 64, heads: 2, extra: { patchSize: 8 } },
      { depth: 4, dim: 32, heads: 2, extra: { patchSize: 8 } },
    ];
  return [{ depth: 2, dim: 16, heads: 2, extra: { patchSize: 8 } }];
}

/** The ablation base model: ViT-Tiny 12×192 at paper scale (spec A.2.4), a narrow stand-in otherwise. */
function ablationArch(scale: Scale): Arch {
  if (scale === 'paper') return { depth: 12, dim: 192, heads: 3 };
  if (scale === 'quick') return { depth: 6, dim: 64, heads: 2, extra: { patchSize: 8 } };
  return { depth: 3, dim: 16, heads: 2, extra: { patchSize: 8 } };
}

const archOverrides = (a: Arch) => ({
  depth: a.depth,
  embedDim: a.dim,
  numHeads: a.heads,
  mlpRatio: 4,
  ...(a.extra ?? {}),
});
const archLabel = (a: Arch) => gridLabel(a.depth, a.dim) + (a.extra?.patchSize ? `/p${a.extra.patchSize}` : '');

/** Recipe changes per scale (smoke and quick: the kit's default budgets, src/train/recipes.ts). */
function recipeFor(scale: Scale) {
  if (scale === 'paper') return officialRecipe('mobile-vmoe'); // inferred DeiT recipe: the paper gives none
  return {};
}

/** Fine class → super-class for E experts: the dataset's coarse classes, merged consecutively when E < #coarse. */
function officialSuperClasses(ds: ImageDataset, experts: number): number[] {
  if (!ds.fineToCoarse || !ds.numCoarse) {
    throw new Error(
      `dataset ${ds.name} has no super-classes; Mobile V-MoE's super-class router needs CIFAR-100 or synth100 ` +
        `(or a confusion-clustered map)`,
    );
  }
  return mergeCoarse(ds.fineToCoarse, ds.numCoarse, experts);
}

/** Fraction of the training split held out for validation: super-classes are fitted on it, never on the test split. */
const HOLDOUT = 0.1;

/**
 * The dataset of every Mobile V-MoE run: CIFAR-100 (or synth100) at paper scale, whose official super-classes the
 * router learns; below it the CIFAR-10 slot (CIFAR-10, else Fashion-MNIST, else synth10), where 100 classes at a
 * CPU budget would stay at chance, with super-classes clustered from a dense model's confusion on the validation
 * hold-out.
 */
function vmoeDataset(ctx: ExperimentRunContext): string {
  return datasetFor(ctx, ctx.scale === 'paper' ? 'cifar100' : 'cifar10');
}

export interface SuperClassPlan {
  /** 'official' (the dataset's coarse labels, merged to E) or 'confusion' (clustered from the dense model). */
  source: 'official' | 'confusion';
  /** E: experts, one per super-class (paper: 10 for CIFAR-100; confusion: the eigengap's count). */
  experts: number;
  /** Fine class → super-class for a given number of groups. */
  groups(e: number): number[];
  /** Confusion matrix of the dense model on the validation hold-out (confusion source only). */
  confusion?: Matrix;
}

/**
 * Super-classes for one experiment's MoEs. Datasets with coarse labels use them (E = 10, the paper's); others fit
 * them as the paper's Sec. 2.2 does: train the dense model (the experiment's 'dense' arm, first seed) on the
 * training split minus the hold-out, take its confusion on the hold-out, choose E by the eigengap of the confusion
 * graph (2 to 5 groups for 10 classes) and cluster the graph into E balanced groups.
 */
async function superClassPlan(ctx: ExperimentRunContext, experiment: string, arch: Arch): Promise<SuperClassPlan> {
  const ds = await cachedDataset(vmoeDataset(ctx), 'train');
  if (ds.fineToCoarse && ds.numCoarse) {
    const experts = Math.min(10, ds.numCoarse);
    return { source: 'official', experts, groups: (e) => officialSuperClasses(ds, e) };
  }
  const dense = await runClassifier(
    ctx,
    denseSpec(ctx, experiment, 'dense', arch, { seed: ctx.seed, analyse: confusionOnVal }),
  );
  const confusion = dense.extra?.confusion as Matrix;
  const experts = superClassCount(confusion, { minK: 2, maxK: Math.min(5, Math.floor(ds.numClasses / 2)) });
  const clusters = clusterConfusion(confusion, experts, { seed: 0 });
  ctx.log(
    `  super-classes from the dense model's confusion on the validation hold-out: E = ${experts} ` +
      `(${clusters.assignment.map((g, c) => `${ds.classNames[c]}→${g}`).join(', ')})`,
  );
  return {
    source: 'confusion',
    experts,
    confusion,
    groups: (e) => (e === experts ? clusters.assignment : clusterConfusion(confusion, e, { seed: 0 }).assignment),
  };
}

/** The dense model's confusion matrix on the validation hold-out (what super-classes are fitted on). */
const confusionOnVal: NonNullable<RunSpec['analyse']> = (m, _test, val) => {
  if (!val)
    throw new Error('Mobile V-MoE: the confusion of the dense model needs the validation hold-out (holdout option)');
  return {
    confusion: evaluate(m, val, { confusion: true }).confusion,
    confusionOn: `validation hold-out (${val.labels.length} images)`,
  };
};

const evalImages = (scale: Scale) => (scale === 'smoke' ? 64 : scale === 'quick' ? 1000 : 0);

/**
 * Router accuracy (Fig. 3b–c): top-1 of the per-image router against the image's super-class (NaN for per-token
 * routing, which has no per-image decision).
 */
function routerMetrics(scale: Scale) {
  return (model: ClassifierModel, test: ImageDataset): Record<string, number> => {
    // the paper's "FLOPs" = 2 × MACs (spec A.2.3)
    const flops = 2 * countMacs(model).macs;
    if (!(model instanceof MobileVmoe) || model.config.routing === 'token') return { flops };
    const map = model.config.superClassOf;
    let right = 0;
    let n = 0;
    for (const b of evalBatches(model, test, { maxImages: evalImages(scale) })) {
      const pred = tf.tidy(() => model.routerPredictions(tf.tensor4d(b.x, b.shape))!);
      pred.forEach((p, i) => {
        right += p === map[b.labels[i]] ? 1 : 0;
        n++;
      });
    }
    return { flops, routerTop1: right / Math.max(1, n) };
  };
}

/**
 * Routing statistics on the test images: for the first MoE block, the fraction of images of each super-class that
 * use each expert (per-image: routed to it; per-token: at least one token sent to it), and the number of distinct
 * experts an image needs per MoE block (what must be loaded on a phone).
 */
function routingAnalysis(scale: Scale) {
  return (model: ClassifierModel, test: ImageDataset): Record<string, unknown> => {
    if (!(model instanceof MobileVmoe)) return {};
    const c = model.config;
    const supers = Math.max(...c.superClassOf) + 1;
    const use = Array.from({ length: supers }, () => new Array<number>(c.numExperts).fill(0));
    const count = new Array<number>(supers).fill(0);
    const hist = new Array<number>(c.numExperts + 1).fill(0);
    let distinctSum = 0;
    let unionSum = 0;
    let n = 0;
    for (const b of evalBatches(model, test, { maxImages: Math.min(evalImages(scale) || 1000, 1000), batchSize: 64 })) {
      const x = tf.tensor4d(b.x, b.shape);
      const used = model.expertsUsed(x);
      x.dispose();
      used.forEach((perLayer, i) => {
        const s = c.superClassOf[b.labels[i]];
        count[s]++;
        for (const e of perLayer[0]) use[s][e]++;
        perLayer.forEach((set) => {
          hist[set.length]++;
          distinctSum += set.length;
        });
        unionSum += new Set(perLayer.flatMap((set, j) => set.map((e) => j * c.numExperts + e))).size;
        n++;
      });
    }
    return {
      superVsExpert: use.map((row, s) => row.map((v) => v / Math.max(1, count[s]))),
      expertsPerImagePerBlock: distinctSum / Math.max(1, n * c.moeLayers),
      expertMlpsLoadedPerImage: unionSum / Math.max(1, n),
      distinctExpertsHistogram: hist,
    };
  };
}

/** Adds fields to what a run's analyse returns, i.e. to its record.extra (the run itself is unchanged). */
function withExtra(spec: RunSpec, fields: Record<string, unknown>): RunSpec {
  const inner = spec.analyse;
  return { ...spec, analyse: async (m, test, val) => ({ ...(inner ? await inner(m, test, val) : {}), ...fields }) };
}

/** Which kind of model a run trains, stored as record.extra.arm. */
type ArmKind = 'moe' | 'dense';

/** A record's arm kind: record.extra.arm; records written before it was stored are told apart by model name. */
function armOf(r: ResultRecord): ArmKind {
  const arm = r.extra?.arm;
  if (arm === 'moe' || arm === 'dense') return arm;
  return r.model.startsWith('vmoe') ? 'moe' : 'dense';
}

function moeSpec(
  ctx: ExperimentRunContext,
  experiment: string,
  variant: string,
  arch: Arch,
  overrides: Record<string, unknown>,
): RunSpec {
  return withExtra(
    {
      experiment,
      paper: PAPER,
      variant,
      model: 'vmoe-6x64',
      overrides: { ...archOverrides(arch), ...overrides },
      dataset: vmoeDataset(ctx),
      holdout: HOLDOUT,
      recipe: recipeFor,
      metrics: routerMetrics(ctx.scale),
      analyse: routingAnalysis(ctx.scale),
    },
    { arm: 'moe' satisfies ArmKind },
  );
}

function denseSpec(
  ctx: ExperimentRunContext,
  experiment: string,
  variant: string,
  arch: Arch,
  extra: Partial<RunSpec> = {},
): RunSpec {
  return withExtra(
    {
      experiment,
      paper: PAPER,
      variant,
      model: 'vit-6x64',
      overrides: archOverrides(arch),
      dataset: vmoeDataset(ctx),
      holdout: HOLDOUT,
      recipe: recipeFor,
      metrics: routerMetrics(ctx.scale),
      ...extra,
    },
    { arm: 'dense' satisfies ArmKind },
  );
}

/** Records of one experiment at the largest scale present (figures never mix scales). */
function latest(records: ResultRecord[], id: string): ResultRecord[] {
  const mine = records.filter((r) => r.experiment === id);
  for (const s of ['paper', 'quick', 'smoke'] as Scale[]) {
    const at = mine.filter((r) => r.scale === s);
    if (at.length) return at;
  }
  return [];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const metricOf = (rs: ResultRecord[], variant: string, m: string) =>
  mean(rs.filter((r) => r.variant === variant && Number.isFinite(r.metrics[m])).map((r) => r.metrics[m]));

// ---------------------------------------------------------------------------------------------------------------
// 1. Dense vs MoE across the L×D grid (Fig. 1)

const SCALING = 'mobile-vmoe.scaling';

function logStandIn(ctx: ExperimentRunContext): void {
  const line = standInLine(ctx, ctx.scale === 'paper' ? 'cifar100' : 'cifar10');
  if (line) ctx.log(line);
}

/** Adds `claimArm` to a run's record.extra (the claims find their arms by it when labels carry a size). */
function withClaimArm(spec: RunSpec, arm: string): RunSpec {
  return withExtra(spec, { claimArm: arm });
}

registerClaim({
  id: 'vmoe.moe-vs-dense',
  paper: PAPER,
  claim: 'A Mobile V-MoE (per-image super-class router, k = 1) beats the dense ViT of equal active MACs',
  experiment: SCALING,
  a: 'MoE (main size)',
  b: 'dense (main size)',
});

registerPaper({
  id: PAPER,
  title: 'Mobile V-MoEs: Scaling Down Vision Transformers via Sparse Mixture-of-Experts',
  arxiv: '2309.04354',
  notebook: '03-mobile-vmoe.ipynb',
  docs: 'docs/mobile-vmoe.md',
  // the quick-scale model `lightvit bench` measures against its PyTorch twin (the ablation base V-MoE, 100 classes);
  // a getter: the overrides are built when read, after this file's helpers are defined
  mainQuickModel: {
    model: 'vmoe-6x64',
    get overrides() {
      return { ...archOverrides(ablationArch('quick')), numClasses: 100 };
    },
  },
});

registerExperiment({
  id: SCALING,
  paper: PAPER,
  title: 'Dense ViT vs Mobile V-MoE across the L×D grid at equal active MACs (Fig. 1, Fig. 3a)',
  plan: (scale) => ({
    runs:
      (scale === 'smoke' ? 1 : HEADLINE_SEEDS) +
      scalingGrid(scale).reduce(
        (n, _, i) => n + 2 * (i === 0 || scale === 'paper' ? (scale === 'smoke' ? 1 : HEADLINE_SEEDS) : 1),
        0,
      ),
    description:
      scale === 'paper'
        ? "the paper's 8 L×D sizes, dense and MoE (E = 10, k = 1, last 2 blocks), CIFAR-100"
        : `a reduced grid of narrow models (${scalingGrid(scale).map(archLabel).join(', ')}) as scaled-down ` +
          `stand-ins for the paper's grid`,
  }),
  async run(ctx) {
    logStandIn(ctx);
    const grid = scalingGrid(ctx.scale);
    const plan = await superClassPlan(ctx, SCALING, grid[0]);
    const E = plan.experts;
    for (const [i, a] of grid.entries()) {
      // the first size carries the claim (every seed); the others one seed below paper scale
      const seeds = i === 0 || ctx.scale === 'paper' ? seedsFor(ctx) : seedsFor(ctx).slice(0, 1);
      for (const seed of seeds) {
        const main = i === 0;
        const dense = {
          ...denseSpec(
            ctx,
            SCALING,
            `dense ${archLabel(a)}`,
            a,
            main && plan.confusion ? { analyse: confusionOnVal } : {},
          ),
          seed,
        };
        await runClassifier(ctx, main ? withClaimArm(dense, 'dense (main size)') : dense);
        const moe = {
          ...moeSpec(ctx, SCALING, `MoE ${archLabel(a)}`, a, {
            numExperts: E,
            moeLayers: Math.min(2, a.depth),
            topK: 1,
            superClassOf: plan.groups(E),
          }),
          seed,
        };
        await runClassifier(ctx, main ? withClaimArm(moe, 'MoE (main size)') : moe);
      }
    }
    await runReference(ctx, { experiment: SCALING, paper: PAPER, dataset: vmoeDataset(ctx), holdout: HOLDOUT });
  },
  figures(records) {
    const mine = latest(records, SCALING);
    const lines = referenceLines(mine);
    const rs = withoutReference(mine).map((r) => ({
      ...r,
      variant: r.variant.replace(/^(dense|MoE) /, ''),
      config: { ...r.config, kind: armOf(r) === 'moe' ? 'Mobile V-MoE' : 'dense ViT' },
    }));
    if (!rs.length) return [];
    const figs: FigureSpec[] = [
      scatterAccVs({
        id: 'vmoe-acc-vs-macs',
        paper: PAPER,
        records: rs,
        references: lines,
        x: 'macs',
        groupBy: 'config.kind',
        labelBy: 'variant',
        title: 'Top-1 vs inference MACs: dense ViT and Mobile V-MoE (Fig. 1)',
        caption:
          "Each point is labelled L×D (depth × width); the MoE has the dense model's active MACs plus a D·E " +
          'router. The paper\'s "FLOPs" are 2 × MACs',
      }),
    ];
    // Fig. 3a as a chart: Δ accuracy of the MoE over its dense twin per size
    const labels = [...new Set(rs.map((r) => r.variant))];
    const dense = (l: string) =>
      mean(rs.filter((r) => r.variant === l && armOf(r) === 'dense').map((r) => r.metrics.top1));
    const moe = (l: string) => mean(rs.filter((r) => r.variant === l && armOf(r) === 'moe').map((r) => r.metrics.top1));
    figs.push(
      barChart({
        id: 'vmoe-gain-by-size',
        paper: PAPER,
        title: 'Accuracy gain of Mobile V-MoE over dense per L×D (Fig. 3a)',
        plotTitle: 'MoE − dense top-1 (pp)',
        records: rs,
        caption:
          'Top-1 of the MoE minus top-1 of the dense ViT of the same L×D (percentage points); the paper reports ' +
          '+3.39 (12×192) and +4.66 (its 54M-FLOP model) on ImageNet',
        bars: [
          {
            name: 'Δ top-1',
            x: labels,
            y: labels.map((l) => Number((100 * (moe(l) - dense(l))).toFixed(2))),
            text: labels.map((l) => `${(100 * dense(l)).toFixed(1)} → ${(100 * moe(l)).toFixed(1)}`),
            textposition: 'outside',
          },
        ],
        xTitle: 'L×D',
        yTitle: 'Δ top-1 (percentage points)',
        categoryX: true,
        height: 440,
      }),
    );
    return figs;
  },
});

// ---------------------------------------------------------------------------------------------------------------
// 2. Ablations (Fig. 3b–e)

const ABLATIONS = 'mobile-vmoe.ablations';
const GAIN = 'Δ top-1 vs dense (pp)';

interface AblationRun {
  sweep: 'E' | 'L' | 'k' | 'routing' | 'base' | 'dense';
  /** The arm's label (its variant). */
  value: string;
  /** The swept number of an E, L or k arm (stored as record.extra.sweptValue). */
  swept?: number;
  overrides: Record<string, unknown>;
}

/**
 * End-to-end routers use raw softmax gates (V-MoE): renormalising a top-1 gate to 1 would cut the router's L_C
 * gradient.
 */
const ROUTING_OVERRIDES: Record<string, Record<string, unknown>> = {
  'super-class / image': { routing: 'superclass-image' },
  'end-to-end / image': { routing: 'e2e-image', gateNormalise: 'none' },
  'end-to-end / token': { routing: 'token', gateNormalise: 'none' },
};

/** Label of the ablations' base model (E = the plan's super-class count, L = 2, k = 1, super-class router). */
export const ABLATION_BASE = 'super-class / image (base)';

/**
 * The ablation arms for a base of E experts: at paper scale the paper's sweeps (E ∈ {2, 5, 10, 20}, L ∈ {1, 2, 4,
 * 6}, k ∈ {1, 2, 3, 5}, three routing strategies); below it one point off the base per sweep and both routing
 * baselines. The base and end-to-end per-image routing carry the claim and run every seed.
 */
function ablationRuns(scale: Scale, baseE: number): AblationRun[] {
  const depth = ablationArch(scale).depth;
  const eSweep = scale === 'paper' ? [2, 5, 10, 20] : [baseE === 5 ? 2 : baseE >= 10 ? 20 : 5];
  const full: AblationRun[] = [
    { sweep: 'dense', value: 'dense', overrides: {} },
    { sweep: 'base', value: ABLATION_BASE, overrides: {} },
    ...eSweep
      .filter((e) => e !== baseE)
      .map((e) => ({ sweep: 'E' as const, value: `E=${e}`, swept: e, overrides: { numExperts: e } })),
    ...[1, 4, 6]
      .filter((l) => l <= depth && (scale === 'paper' || l === 4))
      .map((l) => ({ sweep: 'L' as const, value: `L=${l}`, swept: l, overrides: { moeLayers: l } })),
    ...[2, 3, 5]
      .filter((k) => k <= baseE && (scale === 'paper' || k === 2))
      .map((k) => ({ sweep: 'k' as const, value: `k=${k}`, swept: k, overrides: { topK: k } })),
    ...Object.entries(ROUTING_OVERRIDES)
      .slice(1)
      .map(([v, o]) => ({ sweep: 'routing' as const, value: v, overrides: o })),
  ];
  return scale === 'smoke' ? full.filter((r) => r.value !== 'L=4') : full;
}

/**
 * The swept parameter and value of an ablation record: record.extra.sweep / sweptValue; records written before
 * those were stored are read from their `E=5`-style label.
 */
function sweptOf(r: ResultRecord): { sweep: string; value: number } | undefined {
  const e = r.extra;
  if (typeof e?.sweep === 'string' && typeof e.sweptValue === 'number') return { sweep: e.sweep, value: e.sweptValue };
  const m = /^([ELk])=(\d+)$/.exec(r.variant);
  return m ? { sweep: m[1], value: Number(m[2]) } : undefined;
}

/** What each swept parameter of the ablations is. */
const SWEEP_TITLES = { E: 'number of experts E', L: 'number of MoE blocks L', k: 'active experts k per image' };

const inRoutingClaim = (r: AblationRun) => r.sweep === 'base' || r.value === 'end-to-end / image';

registerClaim({
  id: 'vmoe.superclass-vs-e2e',
  paper: PAPER,
  claim: 'The super-class-guided per-image router beats a per-image router trained end to end (same MoE, k = 1)',
  experiment: ABLATIONS,
  a: ABLATION_BASE,
  b: 'end-to-end / image',
});

registerExperiment({
  id: ABLATIONS,
  paper: PAPER,
  title: 'Ablations: experts E, MoE blocks L, active experts k, routing strategy (Fig. 3b–e)',
  plan: (scale) => {
    const runs = ablationRuns(scale, scale === 'paper' ? 10 : 3);
    const seeds = scale === 'smoke' ? 1 : HEADLINE_SEEDS;
    return {
      runs: runs.reduce((n, r) => n + (inRoutingClaim(r) || scale === 'paper' ? seeds : 1), 0),
      description:
        scale === 'paper'
          ? 'ViT-Tiny (12×192): E ∈ {2,5,10,20}, L ∈ {1,2,4,6}, k ∈ {1,2,3,5}, 3 routing strategies, + dense'
          : `a subset (one other E, L=4, k=2, both routing baselines, base, dense) on a ` +
            `${archLabel(ablationArch(scale))} stand-in for ViT-Tiny; base and end-to-end per-image routing ` +
            `${seeds} seed(s)`,
    };
  },
  async run(ctx) {
    logStandIn(ctx);
    const a = ablationArch(ctx.scale);
    const plan = await superClassPlan(ctx, ABLATIONS, a);
    for (const r of ablationRuns(ctx.scale, plan.experts))
      for (const seed of inRoutingClaim(r) || ctx.scale === 'paper' ? seedsFor(ctx) : seedsFor(ctx).slice(0, 1)) {
        if (r.sweep === 'dense') {
          await runClassifier(ctx, {
            ...denseSpec(ctx, ABLATIONS, 'dense', a, plan.confusion ? { analyse: confusionOnVal } : {}),
            seed,
          });
          continue;
        }
        const e = (r.overrides.numExperts as number | undefined) ?? plan.experts;
        const overrides = {
          numExperts: plan.experts,
          moeLayers: 2,
          topK: 1,
          ...r.overrides,
          superClassOf: plan.groups(e),
        };
        const fields = { sweep: r.sweep, ...(r.swept !== undefined ? { sweptValue: r.swept } : {}) };
        await runClassifier(ctx, withExtra({ ...moeSpec(ctx, ABLATIONS, r.value, a, overrides), seed }, fields));
      }
  },
  figures(records) {
    const rs = latest(records, ABLATIONS);
    if (!rs.length) return [];
    const dense = metricOf(rs, 'dense', 'top1');
    const base = ABLATION_BASE;
    const baseCfg = rs.find((r) => r.variant === base)?.config ?? {};
    const figs: FigureSpec[] = [];
    const sweep = (key: 'E' | 'L' | 'k', baseValue: number, fig: string) => {
      const swept = new Map<string, number>();
      for (const r of rs) {
        const at = sweptOf(r);
        if (at?.sweep === key && !swept.has(r.variant)) swept.set(r.variant, at.value);
      }
      const pts = [{ v: baseValue, variant: base }, ...[...swept].map(([variant, v]) => ({ v, variant }))].sort(
        (p, q) => p.v - q.v,
      );
      const present = pts.filter((p) => rs.some((r) => r.variant === p.variant));
      if (present.length < 2) return;
      figs.push(
        lineChart({
          id: `vmoe-ablation-${key}`,
          paper: PAPER,
          records: rs,
          title: `${fig}: ${SWEEP_TITLES[key]}`,
          caption:
            `Top-1 gain of the MoE over the dense model of the same size (percentage points) and router accuracy ` +
            `(super-class top-1 of the router, %), as ${key} varies (others: E=${baseCfg.numExperts ?? 10}, L=2, ` +
            `k=1, super-class router)`,
          xTitle: key,
          yTitle: 'percentage points / %',
          series: [
            {
              name: 'Δ top-1 vs dense (pp)',
              x: present.map((p) => p.v),
              y: present.map((p) => 100 * (metricOf(rs, p.variant, 'top1') - dense)),
            },
            {
              name: 'router accuracy (%)',
              x: present.map((p) => p.v),
              y: present.map((p) => 100 * metricOf(rs, p.variant, 'routerTop1')),
              dash: 'dot',
            },
          ],
        }),
      );
    };
    sweep('E', Number(baseCfg.numExperts ?? 10), 'Fig. 3b');
    sweep('L', Number(baseCfg.moeLayers ?? 2), 'Fig. 3c');
    sweep('k', Number(baseCfg.topK ?? 1), 'Fig. 3d');
    const routing = rs
      .filter((r) => r.variant === base || r.variant in ROUTING_OVERRIDES)
      .map((r) => ({
        ...r,
        variant: r.variant === base ? 'super-class / image' : r.variant,
        metrics: { ...r.metrics, [GAIN]: 100 * (r.metrics.top1 - dense) },
      }));
    if (routing.length) {
      const bars = ablationBars({
        id: 'vmoe-ablation-routing',
        paper: PAPER,
        records: routing,
        groupBy: 'variant',
        metric: GAIN,
        title: 'Fig. 3e: routing strategy, top-1 gain over dense',
        caption:
          'Top-1 of each MoE minus the dense model of the same size (percentage points; the paper: +2.72 pp ' +
          'super-class per image, +1.87 end-to-end per image, +3.15 per token on ImageNet ViT-Tiny). Per-token ' +
          'routing may load every expert for one image',
      });
      figs.push(bars);
    }
    // super-class × expert routing heat map of the base model
    const b = rs.find((r) => r.variant === base && r.extra?.superVsExpert);
    if (b) {
      const z = b.extra!.superVsExpert as number[][];
      figs.push(
        heatmap({
          id: 'vmoe-routing-heatmap',
          paper: PAPER,
          records: [b],
          z: z.map((row) => row.map((v) => 100 * v)),
          x: z[0].map((_, e) => `${e}`),
          y: z.map((_, s) => `${s}`),
          xTitle: 'expert',
          yTitle: 'super-class (test images)',
          zTitle: '% of images',
          title: 'Which expert each super-class is routed to (super-class router, first MoE block)',
          caption:
            'Share of the test images of each super-class routed to each expert; a trained super-class router ' +
            'puts the mass on the diagonal',
          zmin: 0,
          zmax: 100,
        }),
      );
    }
    const load = rs.filter((r) => typeof r.extra?.expertMlpsLoadedPerImage === 'number');
    if (load.length) {
      figs.push(
        barChart({
          id: 'vmoe-experts-loaded',
          paper: PAPER,
          title: 'Expert MLPs an image needs at inference',
          plotTitle: 'Expert MLPs loaded per image',
          records: load,
          caption:
            'Distinct expert MLPs (summed over the MoE blocks) one test image uses: k·L for per-image routing, up ' +
            'to E·L for per-token routing (V-MoE App. E.3)',
          bars: [
            {
              name: 'expert MLPs per image',
              x: load.map((r) => r.variant),
              y: load.map((r) => Number((r.extra!.expertMlpsLoadedPerImage as number).toFixed(2))),
            },
          ],
          xTitle: 'model',
          yTitle: 'expert MLPs per image (count)',
          categoryX: true,
          width: 820,
          height: 440,
        }),
      );
    }
    return figs;
  },
});

// ---------------------------------------------------------------------------------------------------------------
// 3. Official super-classes vs confusion-clustered super-classes (Sec. 2.2)

const SUPERCLASSES = 'mobile-vmoe.superclasses';

registerExperiment({
  id: SUPERCLASSES,
  paper: PAPER,
  title:
    "Super-classes: clusters of a dense model's confusion graph vs the dataset's own (or random) groups (Sec. 2.2)",
  plan: (scale) => ({
    runs: 3,
    description:
      `dense ${archLabel(ablationArch(scale))} → confusion on the validation hold-out → spectral clustering ` +
      `into E balanced ` +
      "groups, then an MoE routed by those groups and one routed by the dataset's super-classes " +
      '(random balanced groups ' +
      'when it has none)',
  }),
  async run(ctx) {
    logStandIn(ctx);
    const a = ablationArch(ctx.scale);
    const ds = await cachedDataset(vmoeDataset(ctx), 'train');
    const denseRec = await runClassifier(ctx, denseSpec(ctx, SUPERCLASSES, 'dense', a, { analyse: confusionOnVal }));
    const confusion = denseRec.extra?.confusion as Matrix;
    const hasOfficial = !!(ds.fineToCoarse && ds.numCoarse);
    const E = hasOfficial
      ? Math.min(10, ds.numCoarse!)
      : superClassCount(confusion, { minK: 2, maxK: Math.min(5, Math.floor(ds.numClasses / 2)) });
    const clusters = clusterConfusion(confusion, E, { seed: 0 });
    const control = hasOfficial ? officialSuperClasses(ds, E) : randomBalancedGroups(ds.numClasses, E, 0);
    const controlLabel = hasOfficial ? 'official super-classes' : 'random balanced groups';
    const ari = adjustedRandIndex(clusters.assignment, control);
    ctx.log(
      `  confusion clusters (E = ${E}): ARI vs ${controlLabel} ${ari.toFixed(3)}; within-cluster confusion ` +
        `${clusters.withinConfusion.toFixed(3)}`,
    );
    await runClassifier(ctx, moeSpec(ctx, SUPERCLASSES, controlLabel, a, { numExperts: E, superClassOf: control }));
    const rec = moeSpec(ctx, SUPERCLASSES, 'confusion super-classes', a, {
      numExperts: E,
      superClassOf: clusters.assignment,
    });
    const analyse = rec.analyse!;
    const graph = confusionGraph(confusion);
    rec.analyse = async (m, test, val) => ({
      ...(await analyse(m, test, val)),
      clusters: clusters.assignment,
      control: controlLabel,
      ari,
      withinConfusion: clusters.withinConfusion,
      withinConfusionControl: withinFraction(graph, control),
      classNames: ds.classNames,
    });
    await runClassifier(ctx, rec);
  },
  figures(records) {
    const rs = latest(records, SUPERCLASSES);
    if (!rs.length) return [];
    const figs: FigureSpec[] = [];
    const dense = rs.find((r) => r.variant === 'dense' && r.extra?.confusion);
    const clu = rs.find((r) => r.variant === 'confusion super-classes' && r.extra?.clusters);
    const moes = rs.filter((r) => armOf(r) === 'moe' || r.variant === 'dense');
    figs.push(
      ablationBars({
        id: 'vmoe-superclass-source',
        paper: PAPER,
        records: moes,
        groupBy: 'variant',
        metric: 'top1',
        baseline: 'dense',
        title: 'Super-class source: official vs confusion-clustered',
        caption:
          `Top-1 of the dense model and of MoEs (E = ${clu?.config.numExperts ?? '?'}) whose router learns ` +
          `${String(clu?.extra?.control ?? 'the official super-classes')} or super-classes clustered from the ` +
          `dense model's confusion on the validation hold-out` +
          (clu
            ? `; ARI(clusters, ${String(clu.extra?.control ?? 'official')}) = ${(clu.extra!.ari as number).toFixed(3)}`
            : ''),
      }),
    );
    if (dense && clu) {
      const c = dense.extra!.confusion as Matrix;
      const g = confusionGraph(c);
      const assign = clu.extra!.clusters as number[];
      const order = assign
        .map((s, i) => ({ s, i }))
        .sort((p, q) => p.s - q.s || p.i - q.i)
        .map((p) => p.i);
      // class names where the run stored them (they read better than indices: 'Trouser' next to 'Dress'), with
      // the cluster each class fell into
      const names = clu.extra?.classNames as string[] | undefined;
      const label = (i: number) => `${names?.[i] || `class ${i}`} [${assign[i]}]`;
      figs.push(
        heatmap({
          id: 'vmoe-confusion-clusters',
          paper: PAPER,
          records: [dense, clu],
          z: order.map((i) => order.map((j) => 100 * g[i][j])),
          x: order.map(label),
          y: order.map(label),
          xTitle: 'class [cluster], grouped by cluster',
          yTitle: 'class [cluster], grouped by cluster',
          zTitle: 'confusion rate (%)',
          title:
            `Confusion graph of the dense model, classes ordered by the ${clu.config.numExperts} spectral ` +
            `clusters`,
          caption:
            `Symmetrised confusion rates (A = (C + Cᵀ)/2 of row-normalised confusions, zero diagonal); blocks on ` +
            `the diagonal are the clusters. ARI vs official = ${(clu.extra!.ari as number).toFixed(3)}; ` +
            `confusion mass within clusters ${(100 * (clu.extra!.withinConfusion as number)).toFixed(1)}% vs ` +
            `${(100 * (clu.extra!.withinConfusionOfficial as number)).toFixed(1)}% for the official groups`,
          showValues: false,
        }),
      );
      figs.push(confusionGraphFigure(g, assign, [dense, clu]));
    }
    return figs;
  },
});

function withinFraction(g: Matrix, assign: number[]): number {
  let inside = 0;
  let total = 0;
  g.forEach((row, i) =>
    row.forEach((v, j) => {
      total += v;
      if (assign[i] === assign[j]) inside += v;
    }),
  );
  return total > 0 ? inside / total : 0;
}

/** The confusion graph drawn: classes on a circle grouped by cluster, the strongest confusions as edges. */
function confusionGraphFigure(g: Matrix, assign: number[], records: ResultRecord[]): FigureSpec {
  const n = g.length;
  const order = assign
    .map((s, i) => ({ s, i }))
    .sort((p, q) => p.s - q.s || p.i - q.i)
    .map((p) => p.i);
  const pos = new Array<[number, number]>(n);
  order.forEach((i, r) => {
    const t = (2 * Math.PI * r) / n;
    pos[i] = [Math.cos(t), Math.sin(t)];
  });
  const edges: Array<{ i: number; j: number; w: number }> = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (g[i][j] > 0) edges.push({ i, j, w: g[i][j] });
  edges.sort((p, q) => q.w - p.w);
  const top = edges.slice(0, Math.min(edges.length, 2 * n));
  const inside = top.filter((e) => assign[e.i] === assign[e.j]).map((e): [number, number] => [e.i, e.j]);
  const across = top.filter((e) => assign[e.i] !== assign[e.j]).map((e): [number, number] => [e.i, e.j]);
  return graphFigure({
    id: 'vmoe-confusion-graph',
    paper: PAPER,
    title: 'Confusion graph and its clusters',
    records,
    caption:
      'Fine classes on a circle, grouped and coloured by spectral cluster; lines are the ' +
      `${top.length} strongest confusions (solid within a cluster, grey across)`,
    nodes: pos.map((p, i) => ({
      x: p[0],
      y: p[1],
      text: `class ${i}, cluster ${assign[i]}`,
      color: TABLEAU_20[assign[i] % TABLEAU_20.length],
    })),
    nodeName: 'classes',
    edgeGroups: [
      { name: 'within-cluster confusion', edges: inside, color: '#1f77b4' },
      { name: 'cross-cluster confusion', edges: across, color: '#bbbbbb' },
    ],
  });
}

// ---------------------------------------------------------------------------------------------------------------
// ImageNet paper scale: dense ViT-Tiny vs its Mobile V-MoE (E = 10, k = 1, last 2 blocks) on an ImageNet folder

/** Experts per image router on a folder of C classes: the paper's 10, fewer when C is small (at least 2). */
export const imagenetExperts = (classes: number) => Math.max(2, Math.min(10, Math.floor(classes / 2)));

function imagenetArch(scale: Scale): Arch {
  // the main sweep's patch 32 at 224² (docs/mobile-vmoe.md §2, secondary): 7² tokens, as 56²/p8 and 28²/p4 below
  if (scale === 'paper') return { depth: 12, dim: 192, heads: 3, extra: { patchSize: 32 } };
  if (scale === 'quick') return ablationArch('quick');
  return { depth: 2, dim: 16, heads: 2, extra: { patchSize: 4 } };
}

/** The dense arm's confusion on the validation hold-out, evaluated as the test split is (centre crop). */
const confusionOnValCrop: NonNullable<RunSpec['analyse']> = (m, _test, val) => {
  if (!val) throw new Error('Mobile V-MoE: the confusion of the dense model needs the validation hold-out');
  const r = evaluate(m, val, { confusion: true, evalCropFraction: 224 / 256 });
  return { confusion: r.confusion, confusionOn: `validation hold-out (${val.labels.length} images)` };
};

registerImagenetStudy({
  paper: PAPER,
  recipe: 'mobile-vmoe',
  title: 'Dense ViT vs Mobile V-MoE',
  arms: (scale) => {
    const a = imagenetArch(scale);
    return [
      {
        variant: `dense ${gridLabel(a.depth, a.dim)}`,
        model: 'vit-6x64',
        overrides: archOverrides(a),
        spec: { holdout: HOLDOUT, analyse: confusionOnValCrop },
      },
      {
        variant: `MoE ${gridLabel(a.depth, a.dim)}`,
        model: 'vmoe-6x64',
        overrides: archOverrides(a),
        // super-classes as the paper fits them: clusters of the dense model's confusion on the hold-out
        overridesFrom: (done, classes) => {
          const confusion = done[0].extra?.confusion as Matrix;
          const E = imagenetExperts(classes);
          const superClassOf = clusterConfusion(confusion, E, { seed: 0 }).assignment;
          return { numExperts: E, moeLayers: Math.min(2, a.depth), topK: 1, superClassOf };
        },
        spec: { holdout: HOLDOUT, metrics: routerMetrics(scale), analyse: routingAnalysis(scale) },
      },
    ];
  },
  reported: 'the paper states +3.39 pp top-1 for the 12×192 (ViT-Tiny) MoE over its dense model (docs/mobile-vmoe.md).',
});
