import * as tf from '@tensorflow/tfjs';

/**
 * Cross-entropy with label smoothing (Szegedy et al. 2016): targets (1 − ε)·onehot + ε/K, mean over the batch.
 * Same definition as torch.nn.CrossEntropyLoss(label_smoothing=ε).
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, smoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const logp = tf.logSoftmax(logits);
    const onehot = tf.oneHot(labels.toInt(), k).toFloat();
    const target = smoothing > 0 ? onehot.mul(1 - smoothing).add(smoothing / k) : onehot;
    return target.mul(logp).sum(1).neg().mean() as tf.Scalar;
  });
}

/**
 * Cross-entropy against soft targets [B, K] (rows summing to 1), mean over the batch: timm's
 * SoftTargetCrossEntropy, the loss of the mixup/cutmix recipes. With one-hot rows it equals `crossEntropy`.
 */
export function softTargetCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => targets.mul(tf.logSoftmax(logits)).sum(1).neg().mean() as tf.Scalar);
}

/** Number of rows whose label is among the top-k logits (ties count as hits only when strictly above). */
export function topkCorrect(logits: Float32Array, numClasses: number, labels: ArrayLike<number>, k: number): number {
  let hits = 0;
  const n = labels.length;
  for (let i = 0; i < n; i++) {
    const row = i * numClasses;
    const target = logits[row + labels[i]];
    let above = 0;
    for (let j = 0; j < numClasses; j++) if (logits[row + j] > target) above++;
    if (above < k) hits++;
  }
  return hits;
}
