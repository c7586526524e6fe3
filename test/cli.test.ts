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
  const write = vi.spyOn(process.stderr, 'write').mockImplementation(((s: string) => {
    err.push(String(s));
    return true;
  }) as never);
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
    for (const c of ['info', 'models', 'params', 'train', 'data', 'reproduce', 'figures', 'bench'])
      expect(h.out).toMatch(new RegExp(`^  ${c} `, 'm'));
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

  // vit-tiny-test on 32² synthetic images at smoke scale: a training run of a few seconds
  const tiny = [
    'train',
    'vit-tiny-test',
    '--data',
    'synth10',
    '--scale',
    'smoke',
    '--set',
    'imageSize=32',
    '--set',
    'patchSize=8',
  ];

  it('train writes a results JSON (config, backend, versions, seed, history, wall time) and a checkpoint', async () => {
    const r = await cli(...tiny);
    expect(r.code).toBe(0);
    const file = /^results: (.*)$/m.exec(r.out)![1];
    expect(path.basename(file)).toMatch(/^vit-tiny-test-synth10-smoke-s0-[0-9a-f]{8}\.json$/);
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

  it(
    'train runs that differ only in --set are two runs: two ' + 'results files, two checkpoints, two table rows',
    async () => {
      const a = await cli(...tiny, '--set', 'depth=1', '--seed', '5');
      const b = await cli(...tiny, '--set', 'depth=2', '--seed', '5');
      expect(a.code).toBe(0);
      expect(b.code).toBe(0);
      const files = (r: { out: string }) => [/^results: (.*)$/m.exec(r.out)![1], /^checkpoint: (.*)$/m.exec(r.out)![1]];
      const [ra, ca] = files(a);
      const [rb, cb] = files(b);
      expect(ra).not.toBe(rb);
      expect(ca).not.toBe(cb);
      const ja = JSON.parse(fs.readFileSync(ra, 'utf8'));
      const jb = JSON.parse(fs.readFileSync(rb, 'utf8'));
      expect(ja.key).not.toBe(jb.key);
      expect(ja.recipe.epochs).toBe(1);
      const t = await cli('table', '--paper', 'kit');
      const rows = t.out.split('\n').filter((l) => /^kit\s+train\s+vit-tiny-test/.test(l));
      expect(rows.length).toBeGreaterThanOrEqual(2);
      expect(t.out).toMatch(/config/);
    },
  );

  it(
    '--resume says where it resumes from, or that it starts ' + 'fresh; another configuration is refused by key',
    async () => {
      const fresh = await cli(...tiny, '--seed', '7', '--resume');
      expect(fresh.code).toBe(0);
      expect(fresh.err).toMatch(/no checkpoint at .*\.ckpt: starting fresh/);
      const again = await cli(...tiny, '--seed', '7', '--resume');
      expect(again.err).toMatch(/resuming from epoch 1, step 0/);
      const ckpt = /^checkpoint: (.*)$/m.exec(again.out)![1];
      const other = await cli(...tiny, '--seed', '7', '--resume', '--lr', '0.01', '--checkpoint', ckpt);
      expect(other.code).toBe(1);
      expect(other.err).toMatch(/trained with another configuration \(recipe\.lr: 0\.001 → 0\.01\)/);
    },
  );

  it('--resume with a changed flag names the checkpoint of the other configuration and what differs', async () => {
    await cli(...tiny, '--seed', '9');
    const r = await cli(...tiny, '--seed', '9', '--epochs', '2', '--resume');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(
      /another configuration of this run has a checkpoint: vit-tiny-test-synth10-smoke-s9-[0-9a-f]{8}\.ckpt \(.*recipe\.epochs: 1 → 2/,
    );
    expect(r.err).toMatch(/no checkpoint at .*: starting fresh/);
  });

  it('the record covers the whole run: wall time of a resumed run includes its first session', async () => {
    const first = await cli(...tiny, '--seed', '8', '--epochs', '2');
    const ckpt = /^checkpoint: (.*)$/m.exec(first.out)![1];
    const { readCheckpoint } = await import('../src/train/checkpoint');
    const wall1 = readCheckpoint(ckpt).meta.wallTimeS as number;
    expect(wall1).toBeGreaterThan(0);
    const again = await cli(...tiny, '--seed', '8', '--epochs', '2', '--resume');
    const j = JSON.parse(fs.readFileSync(/^results: (.*)$/m.exec(again.out)![1], 'utf8'));
    expect(j.wallTimeS).toBeGreaterThanOrEqual(wall1);
    expect(j.history).toHaveLength(2);
  });

  it('train <model>-pretrain runs the MAE objective (no labels, no evaluation)', async () => {
    const r = await cli('train', 'mae-vit-pretrain-test', '--data', 'synth10', '--scale', 'smoke');
    expect(r.err).toMatch(/pre-training \(MAE objective\) mae-vit-pretrain-test/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/MAE loss \d/);
    const j = JSON.parse(fs.readFileSync(/^results: (.*)$/m.exec(r.out)![1], 'utf8'));
    expect(j.objective).toBe('mae');
    expect(j.history[0].testTop1).toBeUndefined();
  });

  it('claims prints the claims table, and one JSON object per line with --json', async () => {
    const t = await cli('claims');
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/no claims can be evaluated yet|paper\s+claim/);
    const j = await cli('claims', '--json', '--scale', 'smoke');
    expect(j.code).toBe(0);
    for (const line of j.out.split('\n').filter(Boolean)) expect(JSON.parse(line)).toHaveProperty('verdict');
  });
});
