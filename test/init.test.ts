import { describe, it, expect } from 'vitest';
import { init } from '../src/nn/module';
import { Rng } from '../src/util/rng';
import { createModel } from '../src/models';

const stats = (a: Float32Array) => {
  let s = 0;
  let s2 = 0;
  let max = 0;
  for (const v of a) {
    s += v;
    s2 += v * v;
    max = Math.max(max, Math.abs(v));
  }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(s2 / a.length - mean * mean), rms: Math.sqrt(s2 / a.length), max };
};

describe('initialisation matches PyTorch/timm', () => {
  it('truncNormal(0.02) truncates at ±2 absolute: a plain N(0, 0.02) (±2σ truncation would give 0.0176)', () => {
    const w = init.truncNormal(0.02)([1000, 1000], new Rng(1));
    const s = stats(w);
    expect(Math.abs(s.mean)).toBeLessThan(1e-4);
    expect(s.std).toBeGreaterThan(0.0199);
    expect(s.std).toBeLessThan(0.0201);
    // values beyond 2σ exist (about 4.6% of a normal)
    expect(w.filter((v) => Math.abs(v) > 0.04).length / w.length).toBeGreaterThan(0.04);
  });

  it('truncNormal respects absolute bounds that do bite, and rejects impossible ones', () => {
    const w = init.truncNormal(1, -1, 1)([100_000], new Rng(2));
    expect(stats(w).max).toBeLessThanOrEqual(1);
    // std of N(0,1) truncated to [-1, 1]: 0.5376
    expect(stats(w).std).toBeCloseTo(0.5376, 2);
    expect(() => init.truncNormal(1, 1, -1)([2], new Rng(0))).toThrow(/expected a < b/);
  });

  const value = (m: ReturnType<typeof createModel>, path: string) => {
    const p = m.namedParams().find(([n]) => n === path);
    if (!p)
      throw new Error(
        `no parameter ${path}; have ${m
          .namedParams()
          .map(([n]) => n)
          .join(', ')}`,
      );
    return p[1].value.dataSync() as Float32Array;
  };

  it("'trunc-normal' ViT: every Linear bias is zero and weights have std 0.02", () => {
    const m = createModel('vit', { weightInit: 'trunc-normal' }, { seed: 3 });
    const biases = m.namedParams().filter(([n]) => n.endsWith('.bias') && !n.includes('norm'));
    const want = ['patch_embed.bias', 'blocks.0.attn.qkv.bias', 'blocks.0.attn.proj.bias', 'head.bias'];
    expect(biases.map(([n]) => n)).toEqual(expect.arrayContaining(want));
    for (const [n, p] of biases) expect([n, stats(p.value.dataSync() as Float32Array).max]).toEqual([n, 0]);
    expect(stats(value(m, 'blocks.0.attn.qkv.weight')).std).toBeCloseTo(0.02, 3);
    m.dispose();
  });

  it("'torch' ViT keeps PyTorch's U(±1/√fan_in) biases", () => {
    const m = createModel('vit', { weightInit: 'torch' }, { seed: 3 });
    const b = stats(value(m, 'blocks.0.attn.qkv.bias'));
    expect(b.max).toBeGreaterThan(0);
    expect(b.max).toBeLessThanOrEqual(1 / Math.sqrt(192));
    m.dispose();
  });

  it("EIT's ViT baseline uses EIT's scheme: Linear std 0.01, kaiming fan-out patch projection, zero biases", () => {
    const m = createModel('vit-eit-baseline-small', {}, { seed: 4 });
    expect((m.config as unknown as { weightInit: string }).weightInit).toBe('eit');
    expect(stats(value(m, 'blocks.0.attn.qkv.weight')).std).toBeCloseTo(0.01, 3);
    const pe = stats(value(m, 'patch_embed.weight'));
    expect(pe.std / Math.sqrt(2 / (64 * 16))).toBeGreaterThan(0.95);
    expect(pe.std / Math.sqrt(2 / (64 * 16))).toBeLessThan(1.05);
    const zeroBiases = [
      'patch_embed.bias',
      'blocks.0.attn.qkv.bias',
      'blocks.0.attn.proj.bias',
      'blocks.0.mlp.fc1.bias',
      'head.bias',
    ];
    for (const n of zeroBiases) {
      expect([n, stats(value(m, n)).max]).toEqual([n, 0]);
    }
    m.dispose();
  });

  it('Mobile V-MoE (trunc-normal): router and head biases are zero', () => {
    const m = createModel('vmoe-e2e-test', {}, { seed: 5 });
    const names = m.namedParams().map(([n]) => n);
    const routerBias = names.find((n) => n.startsWith('router') && n.endsWith('bias'))!;
    expect(routerBias).toBeDefined();
    for (const n of [routerBias, 'head.bias']) expect([n, stats(value(m, n)).max]).toEqual([n, 0]);
    m.dispose();
  });
});
