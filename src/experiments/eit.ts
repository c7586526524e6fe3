import type { Scale } from '../util/scale';
import { officialRecipe } from '../train/recipes';
import type { Recipe } from '../train/types';
import type { FigureSpec, ResultRecord } from '../report/types';
import { registerExperiment, registerPaper } from './registry';
import {
  runClassifier,
  datasetFor,
  standInLine,
  seedsFor,
  HEADLINE_SEEDS,
  runReference,
  referenceLines,
  withoutReference,
  type RunSpec,
} from './common';
import { registerClaim } from './claims';
import { registerImagenetStudy } from './imagenet';
import type { ExperimentRunContext } from './types';
import { convChannelSplit, CONV_SCHEDULES } from '../models/eit';
import { analyseTokenModel, type TokenModelStats } from '../analysis/attention-stats';
import {
  scatterAccVs,
  ablationBars,
  heatmap,
  lineChart,
  barChart,
  pointCloud,
  caption,
  type PointSeries,
} from '../report/figures';
import { recordValue } from '../report/table';

/**
 * EIT (arXiv 2203.07116) experiments. The v1 paper's tables are not available (spec C.5), so these regenerate the
 * comparisons its abstract describes rather than its numbers:
 * 1. eit.small-datasets: EIT vs a ViT of the same width/depth/heads vs CIFAR ResNets on four small datasets;
 * 2. eit.ablation: {EIT_P on/off} × {EIT_T on/off} × {position embedding on/off}, and the conv-channel schedules;
 * 3. eit.analysis: mean attention distance per head and high-frequency share of token maps per layer, EIT vs ViT.
 * Scales: smoke = tiny models, seconds; quick = small CPU stand-ins (C 64, depth 4, 4 heads; ResNet-20);
 * paper = eit-cifar (C 250, depth 5, 10 heads), its ViT baseline, ResNet-18 and ResNet-56, 300 epochs.
 */

const PAPER = 'eit' as const;

/** The four small datasets (spec C.6 proxy for the unknown v1 four); SVHN and Flowers-102 only when downloaded. */
export const EIT_DATASETS = ['cifar10', 'cifar100', 'svhn', 'flowers102'] as const;

export interface EitArm {
  variant: string;
  model: string;
  overrides: Record<string, unknown>;
  kind: 'eit' | 'vit' | 'resnet';
}

const TINY = { embedDim: 16, depth: 2, numHeads: 2, dropout: 0, attnDropout: 0, dropPath: 0 };

/** EIT, its ViT baseline and the ResNets at a scale (quick and smoke models are stand-ins, named so in captions). */
export function eitArms(scale: Scale): EitArm[] {
  switch (scale) {
    case 'smoke':
      return [
        { variant: 'EIT', model: 'eit-cifar', overrides: TINY, kind: 'eit' },
        { variant: 'ViT', model: 'vit-eit-baseline', overrides: TINY, kind: 'vit' },
        {
          variant: 'ResNet-8',
          model: 'resnet20-cifar',
          overrides: { stemChannels: 8, widths: [8, 16, 32], blocks: [1, 1, 1] },
          kind: 'resnet',
        },
      ];
    case 'quick':
      return [
        { variant: 'EIT', model: 'eit-cifar-small', overrides: {}, kind: 'eit' },
        { variant: 'ViT', model: 'vit-eit-baseline-small', overrides: {}, kind: 'vit' },
        { variant: 'ResNet-20', model: 'resnet20-cifar', overrides: {}, kind: 'resnet' },
      ];
    case 'paper':
      return [
        { variant: 'EIT', model: 'eit-cifar', overrides: {}, kind: 'eit' },
        { variant: 'ViT', model: 'vit-eit-baseline', overrides: {}, kind: 'vit' },
        { variant: 'ResNet-18', model: 'resnet18-cifar', overrides: {}, kind: 'resnet' },
        { variant: 'ResNet-56', model: 'resnet56-cifar', overrides: {}, kind: 'resnet' },
      ];
  }
}

/** The EIT model the ablations vary, per scale. */
function ablationBase(scale: Scale): { model: string; overrides: Record<string, unknown> } {
  if (scale === 'smoke') return { model: 'eit-cifar', overrides: TINY };
  if (scale === 'quick') return { model: 'eit-cifar-small', overrides: {} };
  return { model: 'eit-cifar', overrides: {} };
}

/**
 * Recipes: smoke and quick use the kit's default budgets (src/train/recipes.ts);
 * paper follows spec C.6 (AdamW lr 1e-3 at batch 128, wd 0.05, cosine, 5 warm-up epochs, 300 epochs, crop + flip,
 * label smoothing 0.1). The ResNets use the same recipe (the kit has one trainer), not their SGD recipes.
 */
function eitRecipe(scale: Scale): Partial<Recipe> {
  if (scale === 'paper') return officialRecipe('eit'); // EIT's train.py: DeiT augmentation, repeated aug, EMA, no clip
  return {};
}

const analyse =
  (scale: Scale) =>
  (model: Parameters<NonNullable<RunSpec['analyse']>>[0], test: Parameters<NonNullable<RunSpec['analyse']>>[1]) =>
    ({
      ...analyseTokenModel(model, test, { maxImages: scale === 'smoke' ? 8 : scale === 'quick' ? 64 : 256 }),
    }) as Record<string, unknown>;

/**
 * Dataset of the ablation and analysis runs: CIFAR-100 at paper scale (the released code's 32×32 path); CIFAR-10
 * below it, where 1,000 images of 100 classes would leave the models at chance.
 */
function ablationDataset(scale: Scale): string {
  return scale === 'paper' ? 'cifar100' : 'cifar10';
}

/** Records split by (dataset, scale), so that figures never mix runs of different scales or datasets. */
function partitions(records: ResultRecord[]): Array<{ suffix: string; records: ResultRecord[] }> {
  const keys = [...new Set(records.map((r) => `${r.dataset}-${r.scale}`))];
  return keys.map((k) => ({ suffix: k, records: records.filter((r) => `${r.dataset}-${r.scale}` === k) }));
}

function standIn(scale: Scale): string {
  if (scale === 'paper') return '';
  const models =
    scale === 'quick'
      ? 'small CPU stand-ins (EIT/ViT: C 64, depth 4, 4 heads; ResNet-20)'
      : 'tiny smoke-test stand-ins';
  return (
    ` Models are ${models} for the paper's EIT-CIFAR (C 250, depth 5, 10 heads), its ViT baseline and ` +
    'ResNet-18/56.'
  );
}

/**
 * The datasets available in this checkout: the CIFAR-10 slot always (CIFAR-10, else Fashion-MNIST, else synth10);
 * the CIFAR-100 slot at paper scale, or below it only when CIFAR-100 itself is downloaded (synth100 at the quick
 * budget stays at chance: measured 1.2–6.8% top-1); SVHN and Flowers-102 when downloaded. Skips are logged.
 */
function availableDatasets(ctx: ExperimentRunContext): string[] {
  const out: string[] = [];
  for (const d of EIT_DATASETS) {
    const used = datasetFor(ctx, d);
    if (!used) {
      ctx.log(`  ${d}: not downloaded, skipped (lightvit data download ${d})`);
      continue;
    }
    if (d === 'cifar100' && used !== d && ctx.scale !== 'paper' && !ctx.data) {
      ctx.log(`  cifar100: not downloaded; synth100 at the ${ctx.scale} budget stays at chance, skipped`);
      continue;
    }
    const line = standInLine(ctx, d);
    if (line) ctx.log(line);
    if (!out.includes(used)) out.push(used);
  }
  return out;
}

/** Seeds of an arm: every seed for the arms a claim compares, the first one for the rest (all at paper scale). */
function armSeeds(ctx: ExperimentRunContext, inClaim: boolean): number[] {
  const seeds = seedsFor(ctx);
  return inClaim || ctx.scale === 'paper' ? seeds : seeds.slice(0, 1);
}

registerClaim({
  id: 'eit.vs-vit',
  paper: PAPER,
  claim: 'EIT beats a ViT of the same width, depth and heads (EIT has fewer parameters) on a small dataset',
  experiment: 'eit.small-datasets',
  a: 'EIT',
  b: 'ViT',
});
registerClaim({
  id: 'eit.projection-largest-gain',
  paper: PAPER,
  claim:
    "The conv + max-pool patch projection is EIT's largest single gain: EIT loses more without it than without " +
    'decreasing conv',
  experiment: 'eit.ablation',
  a: 'P·noT·nopos',
  b: 'noP·T·nopos',
});
registerClaim({
  id: 'eit.decreasing-conv-adds',
  paper: PAPER,
  claim:
    'Decreasing convolution adds to the conv + max-pool projection: EIT (both) beats EIT with the projection alone',
  experiment: 'eit.ablation',
  a: 'P·T·nopos',
  b: 'P·noT·nopos',
});

// ───────────────────────────── 1. EIT vs ViT vs ResNet on small datasets ─────────────────────────────

const SMALL = 'eit.small-datasets';

registerPaper({
  id: PAPER,
  title: 'EIT: Efficiently Lead Inductive Biases to ViT',
  arxiv: '2203.07116',
  notebook: '06-eit.ipynb',
  docs: 'docs/eit.md',
  // the quick-scale model `lightvit bench` measures against its PyTorch twin (EIT-CIFAR small)
  mainQuickModel: { model: 'eit-cifar-small', overrides: {} },
});

registerExperiment({
  id: SMALL,
  paper: PAPER,
  title: 'EIT vs ViT vs ResNet on four small datasets (accuracy vs parameters)',
  plan(scale) {
    const arms = eitArms(scale);
    const seeds = scale === 'smoke' ? 1 : HEADLINE_SEEDS;
    const perDataset = seeds + arms.reduce((n, a) => n + (a.kind === 'resnet' && scale !== 'paper' ? 1 : seeds), 0);
    const datasets = scale === 'paper' ? 2 : 1;
    return {
      runs: perDataset * datasets,
      description:
        `${arms.map((a) => a.variant).join(', ')} (EIT and ViT ${seeds} seed(s)) on CIFAR-10 (or what stands in)` +
        `${scale === 'paper' ? ' and CIFAR-100' : ''}, plus SVHN and Flowers-102 when downloaded`,
    };
  },
  async run(ctx) {
    for (const dataset of availableDatasets(ctx)) {
      for (const arm of eitArms(ctx.scale))
        for (const seed of armSeeds(ctx, arm.kind !== 'resnet')) {
          await runClassifier(ctx, {
            experiment: SMALL,
            paper: PAPER,
            variant: arm.variant,
            model: arm.model,
            overrides: arm.overrides,
            dataset,
            seed,
            recipe: eitRecipe,
          });
        }
      await runReference(ctx, { experiment: SMALL, paper: PAPER, dataset });
    }
  },
  figures(all) {
    const figs: FigureSpec[] = [];
    const records = withoutReference(all);
    for (const part of partitions(records)) {
      const recs = part.records;
      const lines = referenceLines(all.filter((r) => r.dataset === recs[0].dataset && r.scale === recs[0].scale));
      const ds = recs[0].dataset;
      const scaleNote = standIn(recs[0].scale);
      figs.push(
        scatterAccVs({
          id: `eit-acc-vs-params-${part.suffix}`,
          records: recs,
          x: 'params',
          groupBy: 'variant',
          labelBy: 'variant',
          references: lines,
          title: `EIT vs ViT vs ResNet on ${ds}: top-1 vs parameters`,
          caption:
            `Top-1 accuracy against parameters (log scale) for EIT, a ViT of the same width, depth and heads ` +
            `(4×4 patches, position embedding) and CIFAR ResNets.${scaleNote}`,
        }),
      );
    }
    for (const scale of [...new Set(records.map((r) => r.scale))]) {
      figs.push(
        ablationBars({
          id: `eit-small-datasets-bars-${scale}`,
          records: records.filter((r) => r.scale === scale),
          groupBy: ['dataset', 'variant'],
          metric: 'top1',
          references: referenceLines(all.filter((r) => r.scale === scale)),
          title: 'Top-1 per dataset: EIT, ViT, ResNet',
          caption: `Top-1 accuracy of each model on each small dataset; error bars over seeds.${standIn(scale)}`,
        }),
      );
    }
    return figs;
  },
});

// ───────────────────────────── 2. Ablations ─────────────────────────────

const ABL = 'eit.ablation';

interface AblationCell {
  variant: string;
  overrides: Record<string, unknown>;
}

/** The cells the claims compare: full EIT, without the conv + max-pool projection, without decreasing convolution. */
const CLAIM_CELLS = ['P·T·nopos', 'noP·T·nopos', 'P·noT·nopos'];

/**
 * Cells run at a scale: the whole grid and both extra schedules at paper scale; below it the claims' three cells,
 * position embedding added to full EIT, and both parts removed (the ViT-like corner), to fit the CPU budget.
 */
export function ablationCellsAt(scale: Scale): AblationCell[] {
  if (scale === 'paper') return ablationCells();
  const keep = new Set([...CLAIM_CELLS, 'P·T·pos', 'noP·noT·nopos']);
  return ablationCells().filter((c) => keep.has(c.variant));
}

/** The 2×2×2 grid (EIT_P, EIT_T, position embedding), then the two extra conv-channel schedules. */
export function ablationCells(): AblationCell[] {
  const cells: AblationCell[] = [];
  for (const eitP of [true, false])
    for (const eitT of [true, false])
      for (const pos of [false, true])
        cells.push({
          variant: `${eitP ? 'P' : 'noP'}·${eitT ? 'T' : 'noT'}·${pos ? 'pos' : 'nopos'}`,
          overrides: { eitP, eitT, posEmbed: pos ? 'learned' : 'none', convSchedule: 'decreasing' },
        });
  for (const s of ['constant-half', 'increasing'])
    cells.push({ variant: `schedule:${s}`, overrides: { eitP: true, eitT: true, posEmbed: 'none', convSchedule: s } });
  return cells;
}

const onOff = (v: unknown) => (v ? 'on' : 'off');

registerExperiment({
  id: ABL,
  paper: PAPER,
  title: 'EIT ablations: EIT_P × EIT_T × position embedding, and conv-channel schedules',
  plan(scale) {
    const cells = ablationCellsAt(scale);
    const seeds = scale === 'smoke' ? 1 : HEADLINE_SEEDS;
    const runs = cells.reduce((n, c) => n + (CLAIM_CELLS.includes(c.variant) || scale === 'paper' ? seeds : 1), 0);
    return {
      runs,
      description:
        `${cells.length} cells of the EIT_P × EIT_T × position-embedding ` +
        `grid${scale === 'paper' ? ' + 2 conv schedules' : ''} on ` +
        `${ablationDataset(scale)} (or what stands in); the cells of the claims ${seeds} seed(s)`,
    };
  },
  async run(ctx) {
    const base = ablationBase(ctx.scale);
    const wanted = ablationDataset(ctx.scale);
    const line = standInLine(ctx, wanted);
    if (line) ctx.log(line);
    for (const cell of ablationCellsAt(ctx.scale))
      for (const seed of armSeeds(ctx, CLAIM_CELLS.includes(cell.variant))) {
        await runClassifier(ctx, {
          seed,
          experiment: ABL,
          paper: PAPER,
          variant: cell.variant,
          model: base.model,
          overrides: { ...base.overrides, ...cell.overrides },
          dataset: ablationDataset(ctx.scale),
          recipe: eitRecipe,
          analyse: analyse(ctx.scale),
        });
      }
  },
  figures(records) {
    const figs = partitions(records).flatMap((p) => ablationFigures(p.records, p.suffix));
    if (records.length) figs.push(channelSplitFigure());
    return figs;
  },
});

/** Grid heat map, per-cell bars, schedule bars and the schedule split map for one (dataset, scale). */
function ablationFigures(records: ResultRecord[], suffix: string): FigureSpec[] {
  const figs: FigureSpec[] = [];
  const note = standIn(records[0].scale);
  const grid = records.filter((r) => !r.variant.startsWith('schedule:'));
  if (grid.length) {
    const rows: Array<[boolean, boolean]> = [
      [true, true],
      [true, false],
      [false, true],
      [false, false],
    ];
    const mean = (rs: ResultRecord[]) =>
      rs.length ? (100 * rs.reduce((s, r) => s + r.metrics.top1, 0)) / rs.length : NaN;
    const z = rows.map(([p, t]) =>
      [false, true].map((pos) =>
        mean(
          grid.filter((r) => r.config.eitP === p && r.config.eitT === t && (r.config.posEmbed === 'learned') === pos),
        ),
      ),
    );
    const gridMap = heatmap({
      id: `eit-ablation-grid-${suffix}`,
      paper: PAPER,
      records: grid,
      z,
      x: ['no position embedding', 'learned position embedding'],
      y: rows.map(([p, t]) => `EIT_P ${onOff(p)}, EIT_T ${onOff(t)}`),
      zTitle: 'Top-1 (%)',
      title: 'EIT ablation grid: top-1 accuracy (%)',
      caption:
        `Top-1 accuracy of each ablation cell (mean over seeds). Top-left is EIT as published (no position ` +
        `embedding); bottom-right is a plain ViT with 4×4 patches and position embedding.${note}`,
    });
    // room for the row labels
    gridMap.layout.margin = { l: 170, r: 30, t: 60, b: 60 };
    figs.push(gridMap);
    figs.push(
      ablationBars({
        id: `eit-ablation-bars-${suffix}`,
        records: grid,
        groupBy: ['variant'],
        metric: 'top1',
        baseline: 'noP·noT·pos',
        title: 'EIT ablations: top-1 per cell',
        caption:
          `Top-1 per ablation cell (P = EIT_P conv + max-pool projection, T = EIT_T decreasing convolution, pos ` +
          `= learned position embedding); the dashed line is the ViT-like cell noP·noT·pos.${note}`,
      }),
    );
  }
  const sched = records.filter(
    (r) => r.variant.startsWith('schedule:') || r.variant === 'P·T·nopos' || r.variant === 'P·noT·nopos',
  );
  if (sched.length) {
    const label = (r: ResultRecord) => (r.config.eitT === false ? 'none' : String(r.config.convSchedule));
    figs.push(
      ablationBars({
        id: `eit-conv-schedules-${suffix}`,
        records: sched.map((r) => ({ ...r, variant: label(r) })),
        groupBy: ['variant'],
        metric: 'top1',
        baseline: 'none',
        title: 'Conv-channel schedule of EIT_T: top-1',
        caption:
          `Top-1 with the conv branch's channel share decreasing with depth (paper), constant at one half, ` +
          `increasing, or absent (all attention); EIT_P on, no position embedding.${note}`,
      }),
    );
  }
  const cfg = records[0].config;
  figs.push(scheduleSplitFigure(records, Number(cfg.embedDim), Number(cfg.numHeads), Number(cfg.depth), suffix));
  return figs;
}

/** The per-block channel split of the paper's EIT-CIFAR, drawn as stacked bars (architecture, not a result). */
export function channelSplitFigure(): FigureSpec {
  const paperSplit = convChannelSplit(250, 10, 5, 'decreasing');
  const blocks = paperSplit.map((_, i) => `block ${i + 1}`);
  return barChart({
    id: 'eit-channel-split',
    paper: PAPER,
    title: 'Decreasing convolution: channels per block (EIT-CIFAR, C = 250, 10 heads)',
    plotTitle: 'Channels per EIT block (EIT-CIFAR)',
    caption:
      'Per block, the first c_i channels of LN(x) go through a 3×3 depth-wise convolution and the last a_i through ' +
      '10-head attention; a_i = ⌊(C div h)·(i+1)/depth⌋·h and the last block is all attention (spec C.2.2). The ' +
      'head dimension grows 5 → 25. Architecture, not a result.',
    bars: [
      { name: 'depth-wise conv (EIT_T)', x: blocks, y: paperSplit.map((s) => s.conv), color: '#2ca02c' },
      { name: 'attention', x: blocks, y: paperSplit.map((s) => s.attn), color: '#1f77b4' },
    ],
    barmode: 'stack',
    xTitle: 'Block',
    yTitle: 'Channels',
    height: 420,
  });
}

/** Conv-channel share per block under each schedule, at a model's width (a schedule × block heat map). */
export function scheduleSplitFigure(
  records: ResultRecord[],
  embedDim: number,
  numHeads: number,
  depth: number,
  suffix = '',
): FigureSpec {
  const z = CONV_SCHEDULES.map((s) =>
    convChannelSplit(embedDim, numHeads, depth, s).map((b) => (100 * b.conv) / embedDim),
  );
  return heatmap({
    id: suffix ? `eit-schedules-split-${suffix}` : 'eit-schedules-split',
    paper: PAPER,
    records,
    z,
    x: Array.from({ length: depth }, (_, i) => `block ${i + 1}`),
    y: [...CONV_SCHEDULES],
    zTitle: 'Conv share (%)',
    zmin: 0,
    zmax: 100,
    title: `Conv-channel share per block by schedule (C = ${embedDim}, ${numHeads} heads, depth ${depth})`,
    caption:
      `Share of each block's channels given to the depth-wise conv branch under each schedule, for the trained ` +
      `model's width.`,
  });
}

// ───────────────────────────── 3. Attention distance and frequency analysis ─────────────────────────────

const ANA = 'eit.analysis';

registerExperiment({
  id: ANA,
  paper: PAPER,
  title: 'Attention distance per head and high-frequency share of token maps per layer, EIT vs ViT',
  plan(scale) {
    return {
      runs: 2,
      description:
        `EIT and its ViT baseline on ${ablationDataset(scale)} (synthetic stand-in when not downloaded), ` +
        `analysed after training`,
    };
  },
  async run(ctx) {
    for (const arm of eitArms(ctx.scale).filter((a) => a.kind !== 'resnet')) {
      await runClassifier(ctx, {
        experiment: ANA,
        paper: PAPER,
        variant: arm.variant,
        model: arm.model,
        overrides: arm.overrides,
        dataset: ablationDataset(ctx.scale),
        recipe: eitRecipe,
        analyse: analyse(ctx.scale),
      });
    }
  },
  figures(records) {
    const analysed = records.filter((r) => r.extra && (r.extra as Partial<TokenModelStats>).attentionDistance);
    return partitions(analysed).flatMap((p) => analysisFigures(p.records, p.suffix));
  },
});

/**
 * Attention-distance scatter (one point per head per layer, as ViT paper Fig. 7) and high-frequency share per layer.
 */
export function analysisFigures(records: ResultRecord[], suffix = ''): FigureSpec[] {
  if (!records.length) return [];
  const note = standIn(records[0].scale);
  const palette = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
  const byVariant = [...new Set(records.map((r) => r.variant))];
  const points: PointSeries[] = [];
  byVariant.forEach((v, vi) => {
    const rs = records.filter((r) => r.variant === v);
    const xs: number[] = [];
    const ys: number[] = [];
    rs.forEach((r) => {
      const st = r.extra as unknown as TokenModelStats;
      st.attentionDistance.forEach((heads, l) =>
        heads.forEach((d, h) => {
          // spread heads horizontally within a layer, EIT left and ViT right
          xs.push(l + 1 + (vi - (byVariant.length - 1) / 2) * 0.2 + (h / Math.max(1, heads.length - 1) - 0.5) * 0.12);
          ys.push(Number(d.toFixed(3)));
        }),
      );
    });
    points.push({ name: v, x: xs, y: ys, marker: { color: palette[vi % palette.length], size: 7, opacity: 0.8 } });
  });
  const st0 = records[0].extra as unknown as TokenModelStats;
  const depth = Math.max(...records.map((r) => (r.extra as unknown as TokenModelStats).attentionDistance.length));
  const dist = pointCloud({
    id: suffix ? `eit-attention-distance-${suffix}` : 'eit-attention-distance',
    paper: PAPER,
    title: 'Mean attention distance per head and layer',
    plotTitle: 'Mean attention distance per head',
    records,
    caption:
      'Mean attention distance (attention-weighted distance between query and key patch centres, in input pixels; ' +
      `${st0.grid}×${st0.grid} token grid, ${st0.pixelsPerToken} px apart), one point per head, on ${st0.images} ` +
      `test images. Small distances are local, conv-like heads.${note}`,
    series: points,
    xTitle: 'Block',
    yTitle: 'Mean attention distance (pixels)',
    xTicks: Array.from({ length: depth }, (_, i) => i + 1),
    yFromZero: true,
  });
  const series = byVariant.flatMap((v) => {
    const rs = records.filter((r) => r.variant === v);
    const avg = (k: 'highFreqShare' | 'highFreqShareNoMean') => {
      const arrs = rs.map((r) => (r.extra as unknown as TokenModelStats)[k]);
      return arrs[0].map((_, i) => (100 * arrs.reduce((s, a) => s + a[i], 0)) / arrs.length);
    };
    const x = avg('highFreqShare').map((_, i) => i);
    return [
      { name: `${v} (all energy)`, x, y: avg('highFreqShare') },
      { name: `${v} (mean removed)`, x, y: avg('highFreqShareNoMean'), dash: 'dot' as const },
    ];
  });
  const freq = lineChart({
    id: suffix ? `eit-high-frequency-share-${suffix}` : 'eit-high-frequency-share',
    paper: PAPER,
    records,
    series,
    xTitle: 'Layer (0 = patch embedding, i = after block i)',
    yTitle: 'High-frequency energy share (%)',
    title: 'High-frequency share of the token maps per layer',
    caption:
      `Share of the 2-D DFT energy of each channel's ${st0.grid}×${st0.grid} token map outside radius ` +
      `${st0.radius} of the Nyquist band, pooled over channels and ${st0.images} test images; dotted: each map's ` +
      `mean removed first.${note}`,
  });
  // the spread of head distances per layer: the later revision's "multi-head diversity"
  const spread = lineChart({
    id: suffix ? `eit-head-diversity-${suffix}` : 'eit-head-diversity',
    paper: PAPER,
    records,
    series: byVariant.map((v) => {
      const st = records.find((r) => r.variant === v)!.extra as unknown as TokenModelStats;
      const std = st.attentionDistance.map((h) => {
        const m = h.reduce((s, d) => s + d, 0) / h.length;
        return Math.sqrt(h.reduce((s, d) => s + (d - m) ** 2, 0) / h.length);
      });
      return { name: v, x: std.map((_, i) => i + 1), y: std };
    }),
    xTitle: 'Block',
    yTitle: 'Std of mean attention distance across heads (pixels)',
    title: 'Diversity of heads: spread of attention distance per layer',
    caption: `Standard deviation across heads of the mean attention distance, per block (first seed).${note}`,
  });
  return [dist, freq, spread];
}

/** Grouping helper for notebooks: a record's ablation switches as text. */
export function ablationLabel(r: ResultRecord): string {
  return (
    `EIT_P ${onOff(recordValue(r, 'config.eitP'))}, EIT_T ${onOff(recordValue(r, 'config.eitT'))}, pos ` +
    `${recordValue(r, 'config.posEmbed')}`
  );
}

// ---------------------------------------------------------------------------------------------------------------
// ImageNet paper scale: EIT-Mini and EIT-Tiny against a DeiT-Ti-sized ViT on an ImageNet folder

registerImagenetStudy({
  paper: PAPER,
  recipe: 'eit',
  title: 'EIT vs ViT',
  arms: (scale) => {
    if (scale === 'paper') {
      // DeiT-Ti's sizes (12 × 192, 3 heads, patch 16) in the kit's ViT baseline, with EIT's initialisation
      const deitTi = {
        patchSize: 16,
        embedDim: 192,
        depth: 12,
        numHeads: 3,
        dropout: 0,
        attnDropout: 0,
        dropPath: 0.1,
      };
      return [
        { variant: 'ViT (DeiT-Ti sizes)', model: 'vit-eit-baseline', overrides: deitTi },
        { variant: 'EIT-Mini', model: 'eit-mini' },
        { variant: 'EIT-Tiny', model: 'eit-tiny' },
      ];
    }
    if (scale === 'smoke') {
      return [
        { variant: 'ViT', model: 'vit-eit-baseline', overrides: { patchSize: 7, depth: 1, embedDim: 16, numHeads: 2 } },
        { variant: 'EIT', model: 'eit-test' },
      ];
    }
    return [
      { variant: 'ViT', model: 'vit-eit-baseline-small', overrides: { patchSize: 8 } },
      { variant: 'EIT', model: 'eit-cifar-small' },
    ];
  },
  reported: 'the official model zoo gives EIT-Mini 70.0 and EIT-Tiny 78.1 top-1 (docs/eit.md §4).',
});
