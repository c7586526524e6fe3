import * as tf from '@tensorflow/tfjs';

/**
 * Cut NHWC images into non-overlapping p×p patches, row-major over the grid: [B, H, W, C] → [B, N, p·p·C].
 * `order` is the layout of each patch vector: 'hwc' (row, column, channel: the natural NHWC order, as the bench
 * script) or 'chw' (channel, row, column: PyTorch `F.unfold`, as mLiT's author code). Uses only rank-4 and
 * rank-3 transposes (rank ≥ 5 transposes are slow on wasm).
 */
/** Layouts of a patch vector (see patchify). */
export const PATCH_ORDERS = ['hwc', 'chw'] as const;
export type PatchOrder = (typeof PATCH_ORDERS)[number];

export function patchify(x: tf.Tensor4D, p: number, order: PatchOrder = 'hwc'): tf.Tensor3D {
  const [b, h, w, c] = x.shape;
  const gh = h / p;
  const gw = w / p;
  return tf.tidy(() => {
    // [B·gh, p, gw, p·C] → [B·gh, gw, p, p·C]
    const t = x.reshape([b * gh, p, gw, p * c]).transpose([0, 2, 1, 3]);
    if (order === 'hwc') return t.reshape([b, gh * gw, p * p * c]) as tf.Tensor3D;
    return t
      .reshape([b * gh * gw, p * p, c])
      .transpose([0, 2, 1])
      .reshape([b, gh * gw, c * p * p]) as tf.Tensor3D;
  });
}

/** Inverse of `patchify`: [B, N, p·p·C] → [B, H, W, C]. */
export function unpatchify(
  t: tf.Tensor3D,
  p: number,
  gridH: number,
  gridW: number,
  c: number,
  order: PatchOrder = 'hwc',
): tf.Tensor4D {
  const b = t.shape[0];
  return tf.tidy(() => {
    let u: tf.Tensor = t;
    if (order === 'chw') u = t.reshape([b * gridH * gridW, c, p * p]).transpose([0, 2, 1]);
    return u
      .reshape([b * gridH, gridW, p, p * c])
      .transpose([0, 2, 1, 3])
      .reshape([b, gridH * p, gridW * p, c]) as tf.Tensor4D;
  });
}
