import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../src/cli';

/** Run the CLI in-process, capturing what it prints. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  const write = vi.spyOn(process.stderr, 'write').mockImplementation(((s: string) => (err.push(String(s)), true)) as never);
  try {
    const code = await main(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lightvit-cli-'));
const saved = process.env.LIGHTVIT_DATA_DIR;
beforeAll(() => {
  process.env.LIGHTVIT_DATA_DIR = dataDir;
  process.env.LIGHTVIT_BACKEND = 'wasm';
});
afterAll(() => {
  process.env.LIGHTVIT_DATA_DIR = saved;
});

describe('lightvit CLI', () => {
  it('--help lists every command; a command --help shows its usage; unknown commands exit 2', async () => {
    const h = await cli('--help');
    expect(h.code).toBe(0);
    for (const c of ['info', 'models', 'params', 'train', 'data', 'reproduce', 'figures', 'bench']) expect(h.out).toMatch(new RegExp(`^  ${c} `, 'm'));
    const p = await cli('params', '--help');
    expect(p.out).toMatch(/Usage: lightvit params <model>/);
    expect(p.out).toMatch(/macsWithoutAttention/);
    const u = await cli('trian');
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/unknown command 'trian'/);
  });

  it('params --json gives params, macs and macsWithoutAttention', async () => {
    const r = await cli('params', 'bench-vit', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.params).toBe(456_384);
    expect(j.macs).toBeGreaterThan(j.macsWithoutAttention);
    expect(j.flops).toBe(2 * j.macs);
  });

  it('bad overrides and unknown models fail with a message naming the value and the expected form', async () => {
    const a = await cli('params', 'vit', '--set', 'embedDim=100', '--set', 'numHeads=3');
    expect(a.code).toBe(1);
    expect(a.err).toMatch(/embedDim=100 is not divisible by numHeads=3/);
    const b = await cli('params', 'vit', '--set', 'depth');
    expect(b.err).toMatch(/--set 'depth' is not of the form key=value/);
    const c = await cli('params', 'vitt');
    expect(c.err).toMatch(/unknown model 'vitt'; expected one of: .*vit/);
    const d = await cli('params', 'vit', '--set', 'depth=six');
    expect(d.err).toMatch(/depth="six" is not valid; expected a number/);
  });

  it('train writes a results JSON (config, backend, versions, seed, history, wall time) and a checkpoint', async () => {
    const r = await cli('train', 'vit-tiny-test', '--data', 'synth10', '--scale', 'smoke', '--set', 'imageSize=32', '--set', 'patchSize=8');
    expect(r.code).toBe(0);
    const file = path.join(dataDir, 'results', 'train', 'vit-tiny-test-synth10-smoke-s0.json');
    const j = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(j.config.imageSize).toBe(32);
    expect(j.backend).toBe('wasm');
    expect(j.versions.tfjs).toBe('4.22.0');
    expect(j.synthetic).toBe(true);
    expect(j.history).toHaveLength(1);
    expect(j.wallTimeS).toBeGreaterThan(0);
    expect(fs.existsSync(j.checkpoint)).toBe(true);
    expect(r.out).toMatch(/synthetic data/);
  });
});
