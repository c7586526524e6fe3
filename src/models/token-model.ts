import type * as tf from '@tensorflow/tfjs';
import type { Ctx } from '../nn/module';

/** Where a token model's patch tokens sit: a square grid, row-major, after an optional class token at index 0. */
export interface TokenGeometry {
  /** Side of the square patch grid. */
  grid: number;
  /** Token 0 is a class token (the patch tokens follow it). */
  hasCls: boolean;
  /** Input pixels between the centres of neighbouring patches. */
  pixelsPerToken: number;
  /** Number of blocks `features` runs. */
  depth: number;
}

/** Record keys a token model uses under `ctx.record` (see `TokenModel.features`). */
export const tokenKeys = {
  embed: 'tokens.embed',
  /** Tokens after block i: [B, T, C]. */
  block: (i: number): string => `tokens.${i}`,
  /** Attention probabilities of block i: [B, h, T, T]. */
  attention: (i: number): string => `attn.${i}`,
} as const;

/**
 * A classifier whose activations are tokens on a patch grid (the plain ViT, EIT). `features` runs the embedding,
 * the blocks and the final norm; when `ctx.record` is set it records the embedding (`tokenKeys.embed`), each
 * block's output (`tokenKeys.block(i)`) and each block's attention probabilities (`tokenKeys.attention(i)`; none for
 * a block without attention). Analyses (src/analysis/attention-stats.ts) need nothing else.
 */
export interface TokenModel {
  readonly tokenGeometry: TokenGeometry;
  features(x: tf.Tensor4D, ctx: Ctx): tf.Tensor3D;
}

export function isTokenModel(m: unknown): m is TokenModel {
  const g = (m as Partial<TokenModel> | null)?.tokenGeometry;
  return typeof g === 'object' && g !== null && typeof (m as TokenModel).features === 'function';
}
