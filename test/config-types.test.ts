import { describe, it, expect } from 'vitest';
import { createModel } from '../src/models';
import type { VitConfig } from '../src/models/vit';
import type { MlitConfig } from '../src/models/mlit';
import type { EitConfig } from '../src/models/eit';

/**
 * String config keys are literal unions derived from their family's `choices` list, so a value outside the list is
 * caught twice: by `npm run typecheck` (the @ts-expect-error lines fail it if the key ever widens back to `string`)
 * and at run time by the registry, naming the allowed values.
 */
describe('config string keys are the literal unions of their choices', () => {
  it('a value outside the list is a type error and a run-time error naming the list', () => {
    // @ts-expect-error 'max' is not a ViT pooling
    const pool: Partial<VitConfig> = { pool: 'max' };
    expect(() => createModel('vit-tiny-test', pool, { build: false })).toThrow(
      /pool="max" is not valid; expected one of cls, mean/,
    );
    // @ts-expect-error 'post-norm' is not an mLiT block order
    const order: Partial<MlitConfig> = { blockOrder: 'post-norm' };
    expect(() => createModel('mlit-test', order, { build: false })).toThrow(
      /expected one of ln-then-residual, pre-norm/,
    );
    // @ts-expect-error 'random' is not an EIT conv schedule
    const schedule: Partial<EitConfig> = { convSchedule: 'random' };
    expect(() => createModel('eit-test', schedule, { build: false })).toThrow(
      /expected one of decreasing, constant-half/,
    );
  });

  it('a value from the list is accepted and typed', () => {
    const c = createModel<VitConfig>('vit-tiny-test', { pool: 'mean', activation: 'silu' }, { build: false }).config;
    const pool: 'cls' | 'mean' = c.pool;
    expect([pool, c.activation]).toEqual(['mean', 'silu']);
  });
});
