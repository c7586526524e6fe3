import { describe, it, expect, vi } from 'vitest';
import { runBench } from '../src/bench';
import { nativeStatus } from '../src/backend/native';
import { findTorchPython } from '../src/bench/torch';
import { MAIN_QUICK_MODELS } from '../src/experiments';
import { createModel } from '../src/models';
import { countMacs } from '../src/analysis/count';

/** The benchmark's output contract (not its speed): `--json` lines with model/engine/batch/img_per_s, options. */

async function capture(argv: string[]): Promise<string[]> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    lines.push(a.map(String).join(' '));
  });
  try {
    await runBench(argv);
  } finally {
    spy.mockRestore();
  }
  return lines;
}

const tiny = ['--batch', '2', '--steps', '1', '--warmup', '0', '--rounds', '1', '--no-torch', '--cpu-steps', '1'];
const only = ['--models', 'bench-vit'];

describe('lightvit bench', () => {
  it('--json prints one JSON object per line with model, ' +
    'engine, batch, img_per_s for every engine measured', async () => {
    const lines = await capture([...tiny, ...only, '--json', '--engines', 'cpu,wasm,wasm+native', '--threads', '1']);
    const objs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const rows = objs.filter((o) => 'engine' in o);
    const engines = rows.map((r) => r.engine);
    expect(engines).toContain('cpu');
    expect(engines).toContain('wasm');
    // wasm+native is measured exactly when the addon loaded (and said why not otherwise)
    expect(engines.includes('wasm+native')).toBe(nativeStatus().available);
    for (const r of rows) {
      expect(r.model).toBe('bench-vit');
      expect(r.batch).toBe(2);
      expect(typeof r.img_per_s).toBe('number');
      expect(r.img_per_s as number).toBeGreaterThan(0);
      expect(Number.isFinite(r.final_loss as number)).toBe(true);
    }
    // the same model, data and seed on every engine: the loss after one step agrees across engines
    const losses = rows.map((r) => r.final_loss as number);
    for (const l of losses) expect(Math.abs(l - losses[0])).toBeLessThan(1e-3 * Math.max(1, Math.abs(losses[0])));
    expect(objs.some((o) => typeof o.note === 'string' && /PyTorch twins skipped/.test(o.note as string))).toBe(true);
  }, 300_000);

  it("by default measures bench-vit and each paper's main quick-scale model", async () => {
    const lines = await capture([...tiny, '--json', '--engines', 'wasm+native,wasm', '--threads', '1']);
    const models = new Set(
      lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((o) => 'engine' in o)
        .map((o) => o.model),
    );
    // the papers' registration order (registerPaper), each paper's mainQuickModel
    expect([...models]).toEqual([
      'bench-vit',
      'mlit-xxs@quick',
      'mae-vit@quick',
      'vmoe-6x64@quick',
      'dwnet-mini@quick',
      'eit-cifar-small@quick',
    ]);
  }, 300_000);

  it('--models NAME@quick measures that paper model at its quick overrides, not at its registered defaults', async () => {
    const lines = await capture([...tiny, '--json', '--engines', 'wasm', '--models', 'vmoe-6x64@quick']);
    const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => 'engine' in o);
    expect(rows.map((r) => r.model)).toEqual(['bench-vit', 'vmoe-6x64@quick']);
    // the bench's GFLOP/s is 6 · MACs per image · img/s: the MACs it measured are those of the quick config
    const quick = MAIN_QUICK_MODELS.find((m) => m.model === 'vmoe-6x64')!;
    const macs = (o: Record<string, unknown>) => countMacs(createModel('vmoe-6x64', o, { seed: 0 })).macs;
    const measured = ((rows[1].gflops as number) * 1e9) / (6 * (rows[1].img_per_s as number));
    expect(measured / macs(quick.overrides)).toBeCloseTo(1, 6);
    expect(macs(quick.overrides)).not.toBeCloseTo(macs({}), -3);
  }, 300_000);

  it('human output is an aligned table; --models adds registered models', async () => {
    const lines = await capture([...tiny, '--engines', 'wasm', '--models', 'vit-tiny-test']);
    const header = lines.findIndex((l) => l.startsWith('model '));
    expect(header).toBeGreaterThan(-1);
    const table = lines.slice(header, header + 4);
    expect(table[2]).toMatch(/^bench-vit\s+wasm\s+2\s/);
    expect(table[3]).toMatch(/^vit-tiny-test\s+wasm\s+2\s/);
    expect(table[2].indexOf(' 2 ')).toBe(table[3].indexOf(' 2 ')); // columns line up
  }, 300_000);

  it.skipIf(!('python' in findTorchPython()))(
    'with PyTorch: a twin row per thread count, same params, ratio_to_torch',
    async () => {
      const argv = ['--batch', '2', '--steps', '1', '--warmup', '0', '--rounds', '1', '--models', 'mae-vit', '--json'];
      const lines = await capture([...argv, '--engines', 'wasm', '--threads', '1,2']);
      const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => 'engine' in o);
      for (const model of ['bench-vit', 'mae-vit']) {
        const kit = rows.find((r) => r.model === model && r.engine === 'wasm')!;
        const twins = rows.filter((r) => r.model === model && r.engine === 'pytorch');
        expect(twins.map((r) => r.threads).sort()).toEqual([1, 2]);
        for (const t of twins) expect(t.params).toBe(kit.params);
        expect(kit.params as number).toBeGreaterThan(1000);
        const best = Math.max(...twins.map((r) => r.img_per_s as number));
        expect(kit.ratio_to_torch as number).toBeCloseTo((kit.img_per_s as number) / best, 6);
      }
    },
    300_000,
  );

  it('rejects unknown options and engines with the expected forms', async () => {
    await expect(runBench(['--fast'])).rejects.toThrow(/unknown option --fast.*--json/);
    await expect(runBench(['--engines', 'gpu'])).rejects.toThrow(/unknown 'gpu'.*wasm\+native/);
    await expect(runBench(['--steps', 'x'])).rejects.toThrow(/--steps=x: expected a non-negative integer/);
    await expect(runBench(['--models', 'vit-huge-xyz'])).rejects.toThrow(/vit-huge-xyz/);
  });
});
