import * as tf from '@tensorflow/tfjs';
import { officialRecipe } from '../train/recipes';
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
import type { Scale } from '../util/scale';
import type { ClassifierModel } from '../models/registry';
import type { ImageDataset } from '../data/types';
import type { FigureSpec, ResultRecord } from '../report/types';
import { evalBatch } from '../data';
import { makeCtx } from '../nn/module';
import { scatterAccVs, ablationBars, heatmap, barChart, caption } from '../report/figures';
import { recordValue } from '../report/table';
import { LocalVisionNet, SwinBlock, DWSpatialBlock } from '../models/dwnet';
import { DWConv } from '../nn/dwconv';
import {
  attentionByOffset,
  connectivityFigure,
  depthwiseKernels,
  figureOneConnectivity,
} from '../analysis/connectivity';

/**
 * Experiments of "Demystifying Local Vision Transformer" (arXiv 2106.04263) on 32×32 images:
 * 1. dwnet.blocks:  the four spatial blocks (local attention, DW, D-DW, I-D-DW) on one macro-architecture:
 *    accuracy, parameters, MACs and throughput measured on this machine (the paper reports throughput);
 * 2. dwnet.sharing: weight sharing across channels: DW kernels shared by a head-sized channel group, and
 *    attention weights made per channel (paper Sec. 5, "weight sharing");
 * 3. dwnet.dynamic: static vs homogeneous vs inhomogeneous dynamic weights, each with and without SE, next to
 *    local attention with and without SE (paper Sec. 5, "dynamic weight", "cooperating with SE").
 * Scales: smoke = tiny models (seconds); quick = scaled-down stand-ins (24×24 input, patch 4, two stages 6², 3²,
 * C 32, depths 2-2, window = kernel = 3, as the paper pairs a 7×7 window with a 7×7 kernel), 3 seeds for the
 * claims; paper = the *-mini presets at 40×40 (patch 2, stages 20², 10², 5², C 32, window = kernel = 5) with the
 * small-scale recipe of docs/dwnet.md. The paper's own numbers are ImageNet at 224²: none of these are comparable
 * to them.
 */

const PAPER = 'dwnet' as const;
const BLOCKS = 'dwnet.blocks';
const SHARING = 'dwnet.sharing';
const DYNAMIC = 'dwnet.dynamic';

/** Per-scale overrides applied to every *-mini model (the same macro-architecture for all arms). */
export function dwnetScaleOverrides(scale: Scale): Record<string, unknown> {
  switch (scale) {
    case 'smoke':
      return {
        patchSize: 4,
        embedDim: 16,
        depths: [1, 1],
        numHeads: [1, 2],
        groupChannels: [1, 2],
        windowSize: 4,
        kernelSize: 3,
        dropPath: 0,
      };
    case 'quick':
      // kernel = window (the paper compares a 7×7 window with a 7×7 kernel): 3×3 on maps of 6² and 3², so the
      // input is resized to 24×24
      return {
        imageSize: 24,
        patchSize: 4,
        embedDim: 32,
        depths: [2, 2],
        numHeads: [1, 2],
        groupChannels: [1, 2],
        windowSize: 3,
        kernelSize: 3,
        dropPath: 0.05,
      };
    case 'paper':
      // the *-mini presets with window = kernel = 5: maps 20², 10², 5² from a 40×40 input (CIFAR upsampled)
      return { imageSize: 40, windowSize: 5, kernelSize: 5 };
  }
}

function standIn(scale: Scale): string {
  if (scale === 'paper')
    return ' Models: the *-mini presets at 40×40 (patch 2, stages 20²/10²/5², C = 32, window = DW kernel = 5).';
  const what =
    scale === 'smoke'
      ? '32×32, patch 4, C = 16, depths 1-1, window 4, kernel 3'
      : '24×24, patch 4 (maps 6², 3²), C = 32, depths 2-2, window = DW kernel = 3';
  return ` Models: scaled-down stand-ins at the ${scale} scale (${what}), not the paper's sizes.`;
}

/**
 * Paper scale: DWNet's official recipe (officialRecipe('dwnet'): Swin's, RandAugment, mixup/cutmix, erasing, clip 5).
 */
function dwnetRecipe(scale: Scale) {
  return scale === 'paper' ? officialRecipe('dwnet') : {};
}

export interface DwnetArm {
  variant: string;
  model: string;
  overrides: Record<string, unknown>;
  /** Labels stored in record.extra for grouping in figures. */
  labels: Record<string, string>;
}

const OPERATORS: Array<{ label: string; model: string }> = [
  { label: 'local attention', model: 'localvit-mini' },
  { label: 'DW conv', model: 'dwnet-mini' },
  { label: 'D-DW conv', model: 'ddwnet-mini' },
  { label: 'I-D-DW conv', model: 'iddwnet-mini' },
];

export function blockArms(): DwnetArm[] {
  return OPERATORS.map((o) => ({ variant: o.label, model: o.model, overrides: {}, labels: { operator: o.label } }));
}

export function sharingArms(): DwnetArm[] {
  return [
    {
      variant: 'DW conv: per-channel kernels',
      model: 'dwnet-mini',
      overrides: {},
      labels: { operator: 'DW conv', sharing: 'per channel' },
    },
    {
      variant: 'DW conv: kernel shared per head',
      model: 'dwnet-mini',
      overrides: { dwSharing: 'head' },
      labels: { operator: 'DW conv', sharing: 'shared within a head' },
    },
    {
      variant: 'local attention: per-head weights',
      model: 'localvit-mini',
      overrides: {},
      labels: { operator: 'local attention', sharing: 'shared within a head' },
    },
    {
      variant: 'local attention: per-channel weights',
      model: 'localvit-mini',
      overrides: { attnWeights: 'channel' },
      labels: { operator: 'local attention', sharing: 'per channel' },
    },
  ];
}

export function dynamicArms(): DwnetArm[] {
  const kinds = [
    { label: 'static (DW)', model: 'dwnet-mini' },
    { label: 'homogeneous (D-DW)', model: 'ddwnet-mini' },
    { label: 'inhomogeneous (I-D-DW)', model: 'iddwnet-mini' },
    { label: 'local attention', model: 'localvit-mini' },
  ];
  return kinds.flatMap((k) =>
    [false, true].map((se) => ({
      variant: `${k.label}${se ? ' + SE' : ''}`,
      model: k.model,
      overrides: { se },
      labels: { weights: k.label, se: se ? 'with SE' : 'without SE' },
    })),
  );
}

/** Throughput settings per scale: batch, warm-up and timed passes (paper: the official 50 + 30 passes). */
function throughputPlan(scale: Scale): { batch: number; warmup: number; timed: number } {
  return scale === 'smoke'
    ? { batch: 8, warmup: 1, timed: 1 }
    : scale === 'quick'
      ? { batch: 32, warmup: 2, timed: 5 }
      : { batch: 128, warmup: 50, timed: 30 };
}

function testBatch(model: ClassifierModel, test: ImageDataset, n: number): tf.Tensor4D {
  const idx = Int32Array.from({ length: n }, (_, i) => i % test.labels.length);
  const b = evalBatch(model, test, idx);
  return tf.tensor4d(b.x, b.shape);
}

/**
 * Images per second on this machine: inference (eval-mode forward) and training (forward + backward in training
 * mode; the optimiser update is excluded). Measured after the run, one batch repeated, as the official
 * `main.py --throughput`.
 */
export function measureThroughput(model: ClassifierModel, test: ImageDataset, scale: Scale): Record<string, number> {
  const { batch, warmup, timed } = throughputPlan(scale);
  const x = testBatch(model, test, batch);
  const vars = model.trainableVariables();
  const infer = () => tf.tidy(() => void model.forward(x, makeCtx({ training: false })).dataSync());
  const trainStep = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () =>
          model
            .forward(x, makeCtx({ training: true, seed: 1 }))
            .square()
            .mean() as tf.Scalar,
        vars,
      );
      value.dataSync();
      tf.dispose(Object.values(grads));
    });
  const time = (f: () => void) => {
    for (let i = 0; i < warmup; i++) f();
    const t0 = performance.now();
    for (let i = 0; i < timed; i++) f();
    return (batch * timed) / ((performance.now() - t0) / 1000);
  };
  // training-mode passes move the BatchNorm running statistics: keep the trained ones
  const bnState = model
    .namedParams()
    .filter(([, p]) => !p.trainable)
    .map(([, p]) => [p, p.value.clone()] as const);
  try {
    return { inferImgPerS: time(infer), trainImgPerS: time(trainStep), throughputBatch: batch };
  } finally {
    for (const [p, v] of bnState) {
      p.value.assign(v);
      v.dispose();
    }
    x.dispose();
  }
}

/** Stage-0 block-0 spatial weights of a trained model: attention by offset, or learned DW kernels. */
function spatialWeights(model: ClassifierModel, test: ImageDataset): Record<string, unknown> {
  if (!(model instanceof LocalVisionNet)) return {};
  const block = model.layers[0].blocks[0];
  if (block instanceof SwinBlock) {
    const x = testBatch(model, test, 32);
    try {
      return { attentionByOffset: attentionByOffset(model, x, 'attn.0.0') };
    } finally {
      x.dispose();
    }
  }
  if (block instanceof DWSpatialBlock && block.attn2conv.conv instanceof DWConv)
    return { dwKernels: depthwiseKernels(block.attn2conv.conv, 8) };
  return {};
}

async function runArms(
  ctx: ExperimentRunContext,
  experiment: string,
  arms: DwnetArm[],
  opts: { throughput?: boolean; weights?: boolean; seeds?: number[] } = {},
): Promise<void> {
  const wanted = ctx.scale === 'paper' ? 'cifar100' : 'cifar10';
  const line = standInLine(ctx, wanted);
  if (line) ctx.log(line);
  const dataset = datasetFor(ctx, wanted);
  const base = dwnetScaleOverrides(ctx.scale);
  for (const seed of opts.seeds ?? [ctx.seed])
    for (const arm of arms) {
      const spec: RunSpec = {
        experiment,
        paper: PAPER,
        variant: arm.variant,
        model: arm.model,
        overrides: { ...base, ...arm.overrides },
        dataset,
        seed,
        recipe: dwnetRecipe,
        metrics: opts.throughput ? (m, test) => measureThroughput(m, test, ctx.scale) : undefined,
        analyse: (m, test) => ({ ...arm.labels, ...(opts.weights ? spatialWeights(m, test) : {}) }),
      };
      await runClassifier(ctx, spec);
    }
}

registerClaim({
  id: 'dwnet.dw-vs-local',
  paper: PAPER,
  claim:
    'Depth-wise convolution (kernel = window) in place of local window attention, same network, is on par or better',
  experiment: BLOCKS,
  a: 'DW conv',
  b: 'local attention',
});
registerClaim({
  id: 'dwnet.dynamic-vs-local',
  paper: PAPER,
  claim: 'Inhomogeneous dynamic depth-wise convolution (I-D-DW) in place of local window attention is on par or better',
  experiment: BLOCKS,
  a: 'I-D-DW conv',
  b: 'local attention',
});

/** Readable axis title for bars grouped by a record field. */
function withXTitle(fig: FigureSpec, title: string): FigureSpec {
  const layout = fig.layout as Record<string, Record<string, unknown>>;
  return {
    ...fig,
    layout: {
      ...layout,
      xaxis: { ...layout.xaxis, title: { text: title }, tickangle: 0 },
      margin: { ...(layout.margin ?? {}), b: 90 },
      width: 900,
    },
  };
}

function scaleOf(records: ResultRecord[]): Scale {
  return records[0]?.scale ?? 'paper';
}

registerPaper({
  id: PAPER,
  title: 'Demystifying Local Vision Transformer (DWNet)',
  arxiv: '2106.04263',
  notebook: '04-local-attention-vs-dwconv.ipynb',
  docs: 'docs/dwnet.md',
  // the quick-scale model `lightvit bench` measures against its PyTorch twin (the DW-conv stand-in);
  // a getter: the overrides are built when read, after this file's helpers are defined
  mainQuickModel: {
    model: 'dwnet-mini',
    get overrides() {
      return dwnetScaleOverrides('quick');
    },
  },
});

registerExperiment({
  id: BLOCKS,
  paper: PAPER,
  title: 'Local attention vs DW conv vs dynamic DW conv on one macro-architecture (accuracy, params, MACs, throughput)',
  plan: (scale) => ({
    runs: 5 * (scale === 'smoke' ? 1 : HEADLINE_SEEDS),
    description:
      `local attention, DW, D-DW and I-D-DW models, ${scale === 'smoke' ? 1 : HEADLINE_SEEDS} seed(s) each, on ` +
      `CIFAR-100 at paper scale, CIFAR-10 below (or what stands in)`,
  }),
  async run(ctx) {
    await runArms(ctx, BLOCKS, blockArms(), { throughput: true, weights: true, seeds: seedsFor(ctx) });
    await runReference(ctx, {
      experiment: BLOCKS,
      paper: PAPER,
      dataset: datasetFor(ctx, ctx.scale === 'paper' ? 'cifar100' : 'cifar10'),
    });
  },
  figures(all) {
    const records = withoutReference(all);
    const lines = referenceLines(all);
    const note = standIn(scaleOf(records));
    const figs: FigureSpec[] = [
      ablationBars({
        id: 'dwnet-blocks-top1',
        paper: PAPER,
        records,
        groupBy: 'variant',
        metric: 'top1',
        references: lines,
        xTitle: 'spatial block',
        title: 'Four spatial blocks on one macro-architecture: top-1',
        caption:
          `Top-1 of the same network with local window attention, DW conv (kernel = window), or dynamic DW conv ` +
          `(D-DW per image, I-D-DW per position); error bars one standard deviation over seeds; dashed: a linear ` +
          `classifier on raw pixels with the same images and budget.${note}`,
      }),
      scatterAccVs({
        id: 'dwnet-acc-vs-params',
        references: lines,
        records,
        x: 'params',
        groupBy: 'variant',
        title: 'Four spatial blocks on one macro-architecture: top-1 vs parameters',
        caption:
          `Top-1 accuracy against parameters for local attention (Swin-style), DW conv, homogeneous (D-DW) and ` +
          `inhomogeneous (I-D-DW) dynamic DW conv.${note}`,
      }),
      scatterAccVs({
        id: 'dwnet-acc-vs-macs',
        records,
        x: 'macs',
        groupBy: 'variant',
        title: 'Four spatial blocks on one macro-architecture: top-1 vs MACs',
        caption: `Top-1 accuracy against multiply-accumulates per image (attention matmuls included).${note}`,
      }),
    ];
    const withTp = records.filter((r) => typeof r.metrics.inferImgPerS === 'number');
    if (withTp.length) {
      const names = [...new Set(withTp.map((r) => r.variant))];
      const mean = (v: string, k: string) => {
        const xs = withTp.filter((r) => r.variant === v).map((r) => r.metrics[k]);
        return Number((xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1));
      };
      const backends = [...new Set(withTp.map((r) => r.backend))].join(', ');
      const title = 'Measured throughput on this machine';
      figs.push(
        barChart({
          id: 'dwnet-throughput',
          paper: PAPER,
          title,
          records: withTp,
          caption:
            `${title} (${backends} backend, batch ${withTp[0].metrics.throughputBatch}): inference = eval-mode ` +
            'forward; training = forward + backward without the optimiser step. Numbers depend on the machine and ' +
            `its load.${note}`,
          bars: [
            { name: 'inference', x: names, y: names.map((v) => mean(v, 'inferImgPerS')) },
            { name: 'training (fwd + bwd)', x: names, y: names.map((v) => mean(v, 'trainImgPerS')) },
          ],
          xTitle: 'spatial block',
          yTitle: 'throughput (images/s)',
        }),
      );
    }
    const attn = records.find((r) => Array.isArray(recordValue(r, 'extra.attentionByOffset')));
    if (attn) {
      const maps = recordValue(attn, 'extra.attentionByOffset') as number[][][];
      const side = maps[0].length;
      const offs = Array.from({ length: side }, (_, i) => i - (side - 1) / 2);
      maps.forEach((m, h) =>
        figs.push(
          heatmap({
            id: `dwnet-attention-offsets-head${h}`,
            paper: PAPER,
            z: m,
            x: offs,
            y: offs,
            xTitle: 'Δ column (key − query)',
            yTitle: 'Δ row (key − query)',
            zTitle: 'mean attention weight',
            records: [attn],
            title: `Trained local attention, stage 1 block 1, head ${h}: mean weight by relative offset`,
            caption:
              `Mean attention weight a_ij by offset j − i within a window, averaged over queries and 32 test ` +
              `images, of the trained local-attention model; compare with the learned DW ` +
              `kernels.${standIn(attn.scale)}`,
          }),
        ),
      );
    }
    const dw = records.find((r) => Array.isArray(recordValue(r, 'extra.dwKernels')));
    if (dw) {
      const ks = recordValue(dw, 'extra.dwKernels') as number[][][];
      const k = ks[0].length;
      // kernels side by side, separated by an empty column
      const z = Array.from({ length: k }, (_, i) => ks.flatMap((kk, c) => [...(c > 0 ? [NaN] : []), ...kk[i]]));
      const amax = Math.max(...ks.flat(2).map(Math.abs));
      const fig = heatmap({
        id: 'dwnet-dw-kernels',
        paper: PAPER,
        z,
        xTitle: `channels 0–${ks.length - 1} (${k}×${k} kernel each)`,
        yTitle: 'kernel row',
        zTitle: 'weight',
        colorscale: 'RdBu',
        showValues: false,
        records: [dw],
        title: 'Learned depth-wise kernels, stage 1 block 1',
        caption:
          `The static ${k}×${k} kernels of the first channels of the trained DW model: one fixed weight per ` +
          `offset and channel, shared by all positions, vs attention's per-window, per-head, input-dependent ` +
          `weights.${standIn(dw.scale)}`,
        zmin: -amax,
        zmax: amax,
      });
      const layout = fig.layout as Record<string, Record<string, unknown>>;
      figs.push({
        ...fig,
        layout: {
          ...layout,
          height: 320,
          width: 900,
          xaxis: {
            ...layout.xaxis,
            type: 'linear',
            tickvals: ks.map((_, c) => c * (k + 1) + (k - 1) / 2),
            ticktext: ks.map((_, c) => `ch ${c}`),
            showgrid: false,
            zeroline: false,
          },
          yaxis: { ...layout.yaxis, type: 'linear', scaleanchor: 'x', showgrid: false, zeroline: false },
        },
      });
    }
    figs.push(connectivityFigure(figureOneConnectivity()));
    return figs;
  },
});

registerExperiment({
  id: SHARING,
  paper: PAPER,
  title: 'Weight sharing across channels: DW kernels shared within a head; attention weights per channel',
  plan: () => ({
    runs: 4,
    description:
      'DW conv and local attention, each with per-channel and per-head weights, on CIFAR-100 at paper scale, ' +
      'CIFAR-10 below (synthetic when not downloaded)',
  }),
  run: (ctx) => runArms(ctx, SHARING, sharingArms()),
  figures(records) {
    return [
      withXTitle(
        ablationBars({
          id: 'dwnet-weight-sharing',
          records,
          groupBy: ['extra.operator', 'extra.sharing'],
          metric: 'top1',
          title: 'Weight sharing across channels: top-1',
          caption:
            `Top-1 accuracy of DW conv and local attention when the spatial weights are per channel or shared by ` +
            `the channels of a head (DW: one kernel per head-sized group; attention: heads of one channel for ` +
            `per-channel weights).${standIn(scaleOf(records))}`,
        }),
        'spatial operator',
      ),
    ];
  },
});

registerExperiment({
  id: DYNAMIC,
  paper: PAPER,
  title:
    'Dynamic weight: static vs homogeneous vs inhomogeneous dynamic DW conv, with and without SE, vs local attention',
  plan: () => ({
    runs: 8,
    description:
      'DW, D-DW, I-D-DW and local attention, each with and without SE, on CIFAR-100 at paper scale, CIFAR-10 ' +
      'below (synthetic when not downloaded)',
  }),
  run: (ctx) => runArms(ctx, DYNAMIC, dynamicArms()),
  figures(records) {
    return [
      withXTitle(
        ablationBars({
          id: 'dwnet-dynamic-weight',
          records,
          groupBy: ['extra.weights', 'extra.se'],
          metric: 'top1',
          title: 'Dynamic weight and SE: top-1',
          caption:
            `Top-1 accuracy of static, homogeneous dynamic (per image) and inhomogeneous dynamic (per position) ` +
            `DW conv and of local attention, each without and with a squeeze-and-excitation block on the spatial ` +
            `branch.${standIn(scaleOf(records))}`,
        }),
        'spatial weights',
      ),
      scatterAccVs({
        id: 'dwnet-dynamic-acc-vs-params',
        records,
        x: 'params',
        groupBy: 'extra.se',
        labelBy: 'extra.weights',
        title: 'Dynamic weight and SE: top-1 vs parameters',
        caption:
          `Top-1 against parameters: the homogeneous generator (C/4 → C·k²) costs most ` +
          `parameters.${standIn(scaleOf(records))}`,
      }),
    ];
  },
});

// ---------------------------------------------------------------------------------------------------------------
// ImageNet paper scale: the paper's main table (Swin-T vs DWNet-T and its dynamic variants) on an ImageNet folder

const IMAGENET_OPERATORS: Array<{ label: string; family: string; paper: string; name: string }> = [
  { label: 'local attention', family: 'localvit', paper: 'swin-tiny', name: 'Swin-T' },
  { label: 'DW conv', family: 'dwnet', paper: 'dwnet-tiny', name: 'DWNet-T' },
  { label: 'D-DW conv', family: 'ddwnet', paper: 'ddwnet-tiny', name: 'D-DWNet-T' },
  { label: 'I-D-DW conv', family: 'iddwnet', paper: 'iddwnet-tiny', name: 'I-D-DWNet-T' },
];

registerImagenetStudy({
  paper: PAPER,
  recipe: 'dwnet',
  title: 'Local attention vs depth-wise convolution',
  arms: (scale) =>
    IMAGENET_OPERATORS.map((o) => {
      if (scale === 'paper') return { variant: `${o.label} (${o.name})`, model: o.paper };
      if (scale === 'smoke') return { variant: o.label, model: `${o.family}-test`, overrides: { windowSize: 7 } };
      // quick: the *-mini macro-architecture at 56² (patch 4: maps 14², 7²), window = DW kernel = 7 as in the paper
      const overrides = {
        patchSize: 4,
        embedDim: 32,
        depths: [2, 2],
        numHeads: [1, 2],
        groupChannels: [1, 2],
        windowSize: 7,
        kernelSize: 7,
        dropPath: 0.05,
      };
      return { variant: o.label, model: `${o.family}-mini`, overrides };
    }),
  reported:
    'the official model zoo gives Swin-T 81.2, DWNet-T 81.2, dynamic DWNet-T 81.8 top-1 (docs/dwnet.md §4; I-D-DWNet ' +
    'open).',
});
