import * as tf from '@tensorflow/tfjs';
import { makeCtx, type Ctx } from '../nn/module';
import { Conv2d, Linear } from '../nn/layers';
import { DWConv, DynamicDWConv, InhomogeneousDWConv } from '../nn/dwconv';
import { WindowAttention, windowPartition, windowReverse } from '../nn/window-attention';
import { Rng } from '../util/rng';
import type { FigureSpec } from '../report/types';
import type { ClassifierModel } from '../models/registry';

/**
 * The connectivity analysis of "Demystifying Local Vision Transformer" (arXiv 2106.04263, Sec. 3 and Fig. 1),
 * read off the kit's own layers instead of drawn by hand.
 *
 * Every spatial operator is seen as an aggregation y = A(x_w) · x_v: values x_v combined with weights that may be
 * computed from an input x_w (dynamic) or not (static). For a fixed x_w the map is linear in x_v, so its exact
 * Jacobian J[(p, c), (q, c')] = ∂y[p, c] / ∂x_v[q, c'] is obtained by applying the layer to one-hot inputs. From J:
 *   - sparse connectivity: which inputs (positions × channels) one output (p0, c0) is connected to;
 *   - weight sharing across positions: J[(p, c), (p+δ, c')] = J[(p', c), (p'+δ, c')] for two output positions;
 *   - weight sharing across channels: J[(p, c), (q, c)] = J[(p, c'), (q, c')] for channels c, c';
 *   - dynamic weight: J changes when x_w changes.
 */

export interface AggregationProbe {
  name: string;
  /** Aggregation of `values` with weights computed from `weightInput` (ignored when static). NHWC, batch ≥ 1. */
  apply(values: tf.Tensor4D, weightInput: tf.Tensor4D, ctx: Ctx): tf.Tensor4D;
}

export interface ConnectivityResult {
  name: string;
  height: number;
  width: number;
  channels: number;
  /** The output whose connections are shown: position (row, column) and channel. */
  output: { row: number; col: number; channel: number };
  /** |∂y[p0, c0] / ∂x[q, c]|, [channel][row][column], normalised to this output's largest weight. */
  strength: number[][][];
  /** Input positions and channels with a non-zero connection to the output. */
  connectedPositions: number;
  connectedChannels: number;
  /** Each output is connected to inputs of its own channel only (channel-wise aggregation). */
  channelSeparable: boolean;
  /** Same weights at two output positions, per relative offset. */
  sharedAcrossPositions: boolean;
  /**
   * Number of channels that use exactly the weights of the output channel (1 = none share; only for channel-separable
   * ops).
   */
  channelsSharingWeights: number;
  /** Weights change with the input. */
  dynamic: boolean;
}

/** J[out][in] of y = apply(x_v; x_w) w.r.t. x_v, for a 1×H×W×C weight input: one batched forward of one-hot inputs. */
export function aggregationJacobian(
  probe: AggregationProbe,
  weightInput: tf.Tensor4D,
): { jac: Float32Array; nOut: number; nIn: number } {
  const [, h, w, c] = weightInput.shape;
  const nIn = h * w * c;
  return tf.tidy(() => {
    const ctx = makeCtx({ training: false });
    const basis = tf.concat([tf.zeros([1, nIn]), tf.eye(nIn)]).reshape([nIn + 1, h, w, c]) as tf.Tensor4D;
    const xw = tf.tile(weightInput, [nIn + 1, 1, 1, 1]) as tf.Tensor4D;
    const y = probe.apply(basis, xw, ctx);
    const nOut = y.size / (nIn + 1);
    const flat = y.reshape([nIn + 1, nOut]);
    // subtract the response to zero (biases); row i+1 is column i of the Jacobian
    const cols = flat.slice([1, 0], [nIn, nOut]).sub(flat.slice([0, 0], [1, nOut]));
    return { jac: cols.transpose().dataSync() as Float32Array, nOut, nIn };
  });
}

function close(a: number, b: number, scale: number): boolean {
  return Math.abs(a - b) <= 1e-4 * scale + 1e-7;
}

/**
 * Connectivity, sharing and dynamics of one operator (H×W×C input, C output channels) for the output at (row, col,
 * channel).
 */
export function analyseConnectivity(
  probe: AggregationProbe,
  opts: {
    height: number;
    width: number;
    channels: number;
    row: number;
    col: number;
    channel: number;
    seed?: number;
    otherRow?: number;
    otherCol?: number;
  },
): ConnectivityResult {
  const { height: H, width: W, channels: C, row, col, channel } = opts;
  const rng = new Rng(opts.seed ?? 0);
  const rand = () =>
    tf.tensor4d(
      Float32Array.from({ length: H * W * C }, () => rng.normal()),
      [1, H, W, C],
    );
  const xa = rand();
  const xb = rand();
  const A = aggregationJacobian(probe, xa);
  const B = aggregationJacobian(probe, xb);
  tf.dispose([xa, xb]);
  const { jac, nIn } = A;
  const at = (j: Float32Array, p: number, c: number, q: number, c2: number) => j[(p * C + c) * nIn + q * C + c2];
  const scale = jac.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const nz = (v: number) => Math.abs(v) > 1e-6 * scale;
  const p0 = row * W + col;

  let rowMax = 0;
  for (let i = 0; i < nIn; i++) rowMax = Math.max(rowMax, Math.abs(at(jac, p0, channel, Math.floor(i / C), i % C)));
  const strength = Array.from({ length: C }, (_, c) =>
    Array.from({ length: H }, (_, r) =>
      Array.from({ length: W }, (_, q) => Math.abs(at(jac, p0, channel, r * W + q, c)) / (rowMax || 1)),
    ),
  );
  const posSet = new Set<number>();
  const chSet = new Set<number>();
  for (let q = 0; q < H * W; q++) {
    for (let c = 0; c < C; c++) {
      if (nz(at(jac, p0, channel, q, c))) {
        posSet.add(q);
        chSet.add(c);
      }
    }
  }

  let channelSeparable = true;
  for (let p = 0; p < H * W && channelSeparable; p++)
    for (let c = 0; c < C && channelSeparable; c++)
      for (let q = 0; q < H * W && channelSeparable; q++)
        for (let c2 = 0; c2 < C; c2++) if (c2 !== c && nz(at(jac, p, c, q, c2))) channelSeparable = false;

  // position sharing: compare the output with another output (default: shifted by half the map), offset by offset
  const r1 = opts.otherRow ?? (row + Math.floor(H / 2)) % H;
  const c1 = opts.otherCol ?? (col + Math.floor(W / 2)) % W;
  let sharedAcrossPositions = true;
  for (let dr = -H; dr <= H && sharedAcrossPositions; dr++)
    for (let dc = -W; dc <= W && sharedAcrossPositions; dc++) {
      const [ra, ca, rb, cb] = [row + dr, col + dc, r1 + dr, c1 + dc];
      if (ra < 0 || ra >= H || ca < 0 || ca >= W || rb < 0 || rb >= H || cb < 0 || cb >= W) continue;
      for (let c = 0; c < C; c++)
        for (let c2 = 0; c2 < C; c2++)
          if (!close(at(jac, p0, c, ra * W + ca, c2), at(jac, r1 * W + c1, c, rb * W + cb, c2), scale))
            sharedAcrossPositions = false;
    }

  let channelsSharingWeights = 1;
  if (channelSeparable) {
    channelsSharingWeights = 0;
    for (let c2 = 0; c2 < C; c2++) {
      let same = true;
      for (let p = 0; p < H * W && same; p++)
        for (let q = 0; q < H * W && same; q++)
          if (!close(at(jac, p, channel, q, channel), at(jac, p, c2, q, c2), scale)) same = false;
      if (same) channelsSharingWeights++;
    }
  }

  let dynamic = false;
  for (let i = 0; i < jac.length && !dynamic; i++) if (!close(jac[i], B.jac[i], scale)) dynamic = true;

  return {
    name: probe.name,
    height: H,
    width: W,
    channels: C,
    output: { row, col, channel },
    strength,
    connectedPositions: posSet.size,
    connectedChannels: chSet.size,
    channelSeparable,
    sharedAcrossPositions,
    channelsSharingWeights,
    dynamic,
  };
}

/** Local window attention's aggregation: windows of x_v combined with a_ij from x_w (no value/output projection). */
function attentionProbe(name: string, attn: WindowAttention): AggregationProbe {
  return {
    name,
    apply: (v, xw, ctx) => {
      const [, h, w] = v.shape;
      const win = attn.window;
      const a = attn.weights(windowPartition(xw, win), ctx, win);
      return windowReverse(attn.aggregate(windowPartition(v, win), a), win, h, w);
    },
  };
}

/**
 * The operators of the paper's Fig. 1, built from the kit's layers at a tiny size (default 6×6×4, window and
 * kernel 3, two attention heads). Returned with their builders' modules so the caller can dispose them.
 */
export function figureOneProbes(
  opts: { size?: number; channels?: number; window?: number; heads?: number; seed?: number } = {},
): {
  probes: AggregationProbe[];
  dispose: () => void;
} {
  const H = opts.size ?? 6;
  const C = opts.channels ?? 4;
  const k = opts.window ?? 3;
  const heads = opts.heads ?? 2;
  const seed = opts.seed ?? 1;
  const conv = new Conv2d(C, C, k, { padding: Math.floor(k / 2) }).build(seed);
  const dw = new DWConv(C, k).build(seed);
  const ddw = new DynamicDWConv(C, k, { reduction: 2 }).build(seed);
  const iddw = new InhomogeneousDWConv(C, k, C / heads, { reduction: 2 }).build(seed);
  const local = new WindowAttention(C, heads, k).build(seed);
  const global = new WindowAttention(C, heads, H).build(seed);
  const tokenMix = new Linear(H * H, H * H).build(seed);
  const pointwise = new Linear(C, C).build(seed);
  const dense = new Linear(H * H * C, H * H * C).build(seed);
  const probes: AggregationProbe[] = [
    { name: 'convolution', apply: (v, _w, ctx) => conv.forward(v, ctx) },
    { name: 'depth-wise convolution', apply: (v) => dw.forward(v) },
    {
      name: 'dynamic depth-wise conv (homogeneous)',
      apply: (v, xw, ctx) => ddw.aggregate(v, ddw.kernels(xw, ctx), ctx),
    },
    {
      name: 'dynamic depth-wise conv (inhomogeneous)',
      apply: (v, xw, ctx) => iddw.aggregate(v, iddw.kernels(xw, ctx), ctx),
    },
    attentionProbe('local attention', local),
    attentionProbe('global attention', global),
    {
      name: 'spatial-mixing MLP',
      apply: (v, _w, ctx) => {
        const [b, h, w, c] = v.shape;
        return tokenMix
          .forward(v.reshape([b, h * w, c]).transpose([0, 2, 1]), ctx)
          .transpose([0, 2, 1])
          .reshape([b, h, w, c]) as tf.Tensor4D;
      },
    },
    { name: 'point-wise MLP (1×1 conv)', apply: (v, _w, ctx) => pointwise.forward(v, ctx) as tf.Tensor4D },
    {
      name: 'fully-connected MLP',
      apply: (v, _w, ctx) => dense.forward(v.reshape([v.shape[0], -1]), ctx).reshape(v.shape) as tf.Tensor4D,
    },
  ];
  return {
    probes,
    dispose: () => [conv, dw, ddw, iddw, local, global, tokenMix, pointwise, dense].forEach((m) => m.dispose()),
  };
}

/** Analyse every Fig. 1 operator for the output at the centre of the first window (row 1, column 1, channel 0). */
export function figureOneConnectivity(
  opts: { size?: number; channels?: number; seed?: number } = {},
): ConnectivityResult[] {
  const size = opts.size ?? 6;
  const channels = opts.channels ?? 4;
  const { probes, dispose } = figureOneProbes({ size, channels, seed: opts.seed });
  try {
    return probes.map((p) =>
      analyseConnectivity(p, { height: size, width: size, channels, row: 1, col: 1, channel: 0, seed: opts.seed }),
    );
  } finally {
    dispose();
  }
}

function describe(r: ConnectivityResult): string {
  const pos = r.connectedPositions === r.height * r.width ? 'all positions' : `${r.connectedPositions} positions`;
  const ch = r.connectedChannels === 1 ? '1 channel' : `${r.connectedChannels} channels`;
  const share = [
    r.sharedAcrossPositions ? 'shared across positions' : 'not shared across positions',
    r.channelSeparable
      ? r.channelsSharingWeights > 1
        ? `shared by ${r.channelsSharingWeights} channels`
        : 'per channel'
      : 'mixes channels',
  ].join(', ');
  return `${pos} × ${ch}; ${share}; ${r.dynamic ? 'dynamic' : 'static'}`;
}

/**
 * The teaching figure (paper Fig. 1, measured): one row per operator; in each row, one H×W panel per input
 * channel showing |∂y[p0, c0] / ∂x[q, c]|, i.e. which inputs the output at p0 (outlined) in channel 0 connects to.
 */
export function connectivityFigure(results: ConnectivityResult[], id = 'dwnet-connectivity'): FigureSpec {
  const r0 = results[0];
  const { height: H, width: W, channels: C } = r0;
  const z: Array<Array<number | null>> = [];
  const y: string[] = [];
  results.forEach((r, i) => {
    if (i > 0) {
      z.push(Array(C * (W + 1) - 1).fill(null));
      y.push(`gap ${i}`);
    }
    for (let row = 0; row < H; row++) {
      const line: Array<number | null> = [];
      for (let c = 0; c < C; c++) {
        if (c > 0) line.push(null);
        for (let col = 0; col < W; col++) line.push(Number(r.strength[c][row][col].toFixed(4)));
      }
      z.push(line);
      y.push(`${r.name} ${row}`);
    }
  });
  const rowsPer = H + 1;
  const annotations = results.map((r, _i) => ({
    xref: 'paper',
    yref: 'y',
    x: 1.02,
    y: `${r.name} ${Math.floor(H / 2)}`,
    xanchor: 'left',
    showarrow: false,
    align: 'left',
    text: `<b>${r.name}</b><br>${describe(r)}`,
    font: { size: 11 },
  }));
  const outlines = results.flatMap((_, i) =>
    Array.from({ length: C }, (_, c) => ({
      type: 'rect',
      xref: 'x',
      yref: 'y',
      x0: c * (W + 1) - 0.5,
      x1: c * (W + 1) + W - 0.5,
      y0: i * rowsPer - 0.5,
      y1: i * rowsPer + H - 0.5,
      line: { color: '#bbbbbb', width: 1 },
    })),
  );
  const boxes = results.map((r, i) => ({
    type: 'rect',
    xref: 'x',
    yref: 'y',
    x0: r.output.col - 0.5,
    x1: r.output.col + 0.5,
    y0: i * rowsPer + r.output.row - 0.5,
    y1: i * rowsPer + r.output.row + 0.5,
    line: { color: '#d62728', width: 2 },
  }));
  const title = 'Connectivity of one output (red box, channel 0) to the input, measured from the layers';
  return {
    id,
    paper: 'dwnet',
    title,
    caption:
      `${title}: for each operator, panels are the input channels 0–${C - 1}, each an ${H}×${W} map of |∂y/∂x| ` +
      '(exact Jacobian of the aggregation w.r.t. its values, weights computed from a fixed random input). ' +
      'Sharing and ' +
      'dynamics are measured: same Jacobian at two output positions / channels, and under a second random input. ' +
      'Randomly initialised layers; no training, no dataset (paper Fig. 1).',
    data: [
      {
        type: 'heatmap',
        z,
        x: Array.from({ length: C * (W + 1) - 1 }, (_, i) => i),
        y: y.map((_, i) => i),
        // white = not connected; any connection is at least light blue
        colorscale: [
          [0, '#ffffff'],
          [0.0001, '#c6dbef'],
          [1, '#08306b'],
        ],
        zmin: 0,
        zmax: 1,
        showscale: false,
        xgap: 1,
        ygap: 1,
        hoverongaps: false,
      },
    ],
    layout: {
      title: { text: title, font: { size: 14 } },
      template: 'plotly_white',
      width: 980,
      height: 120 + results.length * rowsPer * 16,
      margin: { l: 20, r: 430, t: 60, b: 40 },
      xaxis: {
        title: { text: 'input channel (each panel: positions)' },
        tickvals: Array.from({ length: C }, (_, c) => c * (W + 1) + (W - 1) / 2),
        ticktext: Array.from({ length: C }, (_, c) => `channel ${c}`),
        showgrid: false,
        zeroline: false,
      },
      yaxis: { autorange: 'reversed', showticklabels: false, showgrid: false, zeroline: false },
      annotations: annotations.map((a, i) => ({ ...a, y: i * rowsPer + (H - 1) / 2 })),
      shapes: [...outlines, ...boxes],
    },
  };
}

/**
 * Mean attention weight by relative offset (Δrow, Δcol) of a trained local-attention block, per head:
 * [heads][2w−1][2w−1], from attention maps recorded under `key` (default: stage 0, block 0) on `images`.
 */
export function attentionByOffset(model: ClassifierModel, images: tf.Tensor4D, key = 'attn.0.0'): number[][][] {
  let probs: tf.Tensor | null = null;
  const ctx = makeCtx({
    training: false,
    record: (k, v) => {
      if (k === key && !probs) probs = tf.keep(v.clone());
    },
  });
  tf.tidy(() => {
    model.forward(images, ctx);
  });
  if (!probs) throw new Error(`no attention recorded under '${key}'; is the model a local-attention ('attn') model?`);
  const p = probs as tf.Tensor;
  const [, heads, n] = p.shape as number[];
  const w = Math.round(Math.sqrt(n));
  const mean = tf.tidy(() => p.mean(0).dataSync());
  p.dispose();
  const side = 2 * w - 1;
  const out = Array.from({ length: heads }, () => Array.from({ length: side }, () => Array(side).fill(0)));
  const cnt = Array.from({ length: side }, () => Array(side).fill(0));
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const dr = Math.floor(j / w) - Math.floor(i / w) + w - 1;
      const dc = (j % w) - (i % w) + w - 1;
      if (heads > 0) cnt[dr][dc]++;
      for (let h = 0; h < heads; h++) out[h][dr][dc] += mean[(h * n + i) * n + j];
    }
  // average over the query positions that see each offset
  for (let h = 0; h < heads; h++)
    for (let a = 0; a < side; a++)
      for (let b = 0; b < side; b++) out[h][a][b] = cnt[a][b] ? out[h][a][b] / cnt[a][b] : 0;
  return out;
}

/** Learned static depth-wise kernels of one block: [channel][k][k] for the first `count` channels. */
export function depthwiseKernels(conv: DWConv, count = 8): number[][][] {
  const k = conv.kernel;
  const w = tf.tidy(() => conv.kernels().dataSync());
  const C = conv.channels;
  return Array.from({ length: Math.min(count, C) }, (_, c) =>
    Array.from({ length: k }, (_, i) => Array.from({ length: k }, (_, j) => w[(i * k + j) * C + c])),
  );
}
