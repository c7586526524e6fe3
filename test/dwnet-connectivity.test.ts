import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import {
  figureOneConnectivity,
  connectivityFigure,
  attentionByOffset,
  depthwiseKernels,
} from '../src/analysis/connectivity';
import { createModel } from '../src/models';
import type { LocalVisionNet } from '../src/models/dwnet';
import type { DWConv } from '../src/nn/dwconv';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('connectivity measured from the layers (paper Fig. 1 / Sec. 3)', () => {
  it("reproduces the paper's table of sparse connectivity, weight sharing and dynamic weight", () => {
    const before = tf.memory().numTensors;
    const rs = figureOneConnectivity({ size: 6, channels: 4 });
    expect(tf.memory().numTensors).toBe(before);
    const row = (name: string) => {
      const r = rs.find((x) => x.name === name)!;
      return [
        r.connectedPositions,
        r.connectedChannels,
        r.channelSeparable,
        r.sharedAcrossPositions,
        r.channelsSharingWeights,
        r.dynamic,
      ];
    };
    // positions, channels, channel-wise, shared over positions, channels sharing the weights, dynamic
    expect(row('convolution')).toEqual([9, 4, false, true, 1, false]);
    expect(row('depth-wise convolution')).toEqual([9, 1, true, true, 1, false]);
    expect(row('dynamic depth-wise conv (homogeneous)')).toEqual([9, 1, true, true, 1, true]);
    expect(row('dynamic depth-wise conv (inhomogeneous)')).toEqual([9, 1, true, false, 2, true]);
    expect(row('local attention')).toEqual([9, 1, true, false, 2, true]);
    expect(row('global attention')).toEqual([36, 1, true, false, 2, true]);
    expect(row('spatial-mixing MLP')).toEqual([36, 1, true, false, 4, false]);
    expect(row('point-wise MLP (1×1 conv)')).toEqual([1, 4, false, true, 1, false]);
    expect(row('fully-connected MLP')).toEqual([36, 4, false, false, 1, false]);
    // local attention and the DW conv see the same 3×3 neighbourhood of the output at (1, 1) in channel 0
    const dw = rs.find((x) => x.name === 'depth-wise convolution')!.strength[0];
    const la = rs.find((x) => x.name === 'local attention')!.strength[0];
    for (let r = 0; r < 6; r++) for (let c = 0; c < 6; c++) expect(dw[r][c] > 0).toBe(r <= 2 && c <= 2);
    for (let r = 0; r < 6; r++) for (let c = 0; c < 6; c++) expect(la[r][c] > 0).toBe(r <= 2 && c <= 2);
    const fig = connectivityFigure(rs);
    expect(fig.paper).toBe('dwnet');
    expect((fig.data[0].z as unknown[]).length).toBe(9 * 7 - 1);
  });

  it("attention by offset and DW kernels come from the model's own blocks", () => {
    const swin = createModel('localvit-test', {}, { seed: 1 });
    const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const a = attentionByOffset(swin, x);
    expect(tf.memory().numTensors).toBe(before);
    // stage 0 of localvit-test: window 2, 2 heads → [2][3][3]; the query itself (centre) is seen by every query
    expect(a.length).toBe(2);
    expect(a[0].length).toBe(3);
    const dwm = createModel('dwnet-test', {}, { seed: 1 }) as LocalVisionNet;
    const conv = (dwm.layers[0].blocks[0] as unknown as { attn2conv: { conv: DWConv } }).attn2conv.conv;
    const ks = depthwiseKernels(conv, 3);
    expect(ks.length).toBe(3);
    expect(ks[1][0][2]).toBeCloseTo(conv.weight.value.dataSync()[(0 * 3 + 2) * 8 + 1], 6);
    x.dispose();
    swin.dispose();
    dwm.dispose();
  });
});
