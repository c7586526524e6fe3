import { describe, it, expect } from 'vitest';
import { createModel } from '../src/models';
import { architectureSummary, architectureSvg } from '../src/report/architecture';

/** The drawings come from the model's module tree and config: a change of config changes the drawing. */
describe('architecture drawings', () => {
  it('mLiT: blocks collapsed into one row, GQA and the shared-V/W2 MoE described, experts per block listed', () => {
    const s = architectureSummary(createModel('mlit-xxs', {}, { build: false }), 'mlit-xxs');
    const blocks = s.rows.find((r) => r.kind === 'MlitBlock')!;
    expect(blocks.repeat).toBe(9);
    const b = s.blocks.find((x) => x.kind === 'MlitBlock')!;
    expect(b.parts.find((p) => p.path === 'attn')!.detail).toMatch(/6 query heads share 3 key\/value heads/);
    expect(b.parts.find((p) => p.path === 'moe')!.detail).toMatch(/V and W2 shared by all experts/);
    expect(b.variation.map((v) => /(\d+) experts/.exec(v.shapes)?.[1])).toEqual([
      '3',
      '3',
      '3',
      '4',
      '4',
      '4',
      '5',
      '5',
      '5',
    ]);
    const g1 = architectureSummary(createModel('mlit-xxs', { kvGroups: 1, shareVW2: false }, { build: false }));
    const moe = g1.blocks[0].parts.find((p) => p.path === 'moe')!.detail;
    expect(g1.blocks[0].parts.find((p) => p.path === 'attn')!.detail).toMatch(/share 1 key\/value head\b/);
    expect(moe).toMatch(/own W, V, W2/);
    expect(architectureSvg(createModel('mlit-xxs', { depth: 6 }, { build: false }))).toContain('MlitBlock × 6');
  });

  it("Mobile V-MoE's per-image router, DWNet's spatial blocks, EIT's projection and channel split", () => {
    const v = architectureSummary(createModel('vmoe-6x64', {}, { build: false }));
    expect(v.rows.map((r) => r.kind)).toContain('Router');
    expect(v.rows.find((r) => r.kind === 'Router')!.detail).toMatch(/per-image router/);
    for (const [block, re] of [
      ['dw', /static depth-wise/],
      ['ddw', /per image/],
      ['iddw', /per position/],
    ] as const) {
      const d = architectureSummary(createModel('dwnet-mini', { block }, { build: false }));
      expect(d.rows.find((r) => /Spatial/.test(r.kind))!.detail).toMatch(re);
    }
    const e = architectureSummary(createModel('eit-cifar', {}, { build: false }));
    expect(e.rows[0].detail).toMatch(/conv 3×3 .* max-pool 4×4/);
    const conv = e.blocks[0].variation.map((x) => /conv branch (\d+)/.exec(x.shapes)?.[1] ?? null);
    expect(conv).toEqual(['200', '150', '100', '50', null]);
    const svg = architectureSvg(createModel('eit-cifar', {}, { build: false }), { name: 'eit-cifar' });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('EIT_P');
  });
});
