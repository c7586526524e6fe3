import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The real `lightvit` binary (bin/lightvit.js over dist/, which the global setup rebuilds when src/ is newer) on bad
 * command lines: each must exit non-zero with a message naming the bad flag or value and the expected form, before
 * any training starts.
 */
const BIN = path.join(__dirname, '..', 'bin', 'lightvit.js');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lightvit-bin-'));

function lightvit(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, LIGHTVIT_DATA_DIR: dataDir, LIGHTVIT_BACKEND: 'wasm' },
    timeout: 120_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('lightvit binary: a strict command line', () => {
  it.each([
    [['train', 'vit-tiny-test', '--epoch', '3'], /unknown option --epoch \(did you mean --epochs\?\)/],
    [['train', 'vit-tiny-test', '--steps', '50'], /unknown option --steps/],
    [['train', 'vit-tiny-test', '--epochs', '0'], /--epochs 0 is not valid; expected an integer ≥ 1/],
    [['train', 'vit-tiny-test', '--epochs', '-1'], /--epochs -1 is not valid; expected an integer ≥ 1/],
    [['train', 'vit-tiny-test', '--batch', '-4'], /--batch -4 is not valid; expected an integer ≥ 1/],
    [['train', 'vit-tiny-test', '--batch', '0'], /--batch 0 is not valid; expected an integer ≥ 1/],
    [['train', 'vit-tiny-test', '--lr', 'abc'], /--lr abc is not valid; expected a finite number > 0/],
    [['train', 'vit-tiny-test', '--lr', '-1'], /--lr -1 is not valid; expected a finite number > 0/],
    [['train', 'vit-tiny-test', '--lr=Infinity'], /--lr Infinity is not valid/],
    [['train', 'vit-tiny-test', '--set', 'lr=0.1'], /--set lr=0\.1: 'lr' is not a model config key; use --lr 0\.1/],
    [
      ['train', 'vit-tiny-test', '--data', 'cifar11'],
      /unknown dataset 'cifar11'; expected one of: .*cifar10.*\(did you mean 'cifar10'\?\)/,
    ],
    [
      ['train', 'vit-tiny-test', '--scale', 'huge'],
      /unknown --scale value 'huge'; expected one of: smoke, quick, paper/,
    ],
    [['train'], /needs a model name/],
    [['figures', '--paper', 'nope'], /unknown paper 'nope'; expected one of: .*mlit.*eit/],
    [['table', '--paper', 'nope'], /unknown paper 'nope'; expected one of: .*kit/],
    [['models', '--tag', 'nope'], /unknown tag 'nope'; expected one of: .*paper.*test/],
    [['claims', '--paper', 'nope'], /unknown paper 'nope'/],
    [['run', 'mlit.nope'], /unknown experiment or paper 'mlit\.nope'/],
    [['bench', '--step', '3'], /unknown option --step \(did you mean --steps\?\)/],
    [['bench', '--batch', '0'], /--batch 0 is not valid; expected an integer ≥ 1/],
    [['info', 'extra'], /unexpected argument 'extra'/],
  ])('lightvit %j fails naming the problem', (args, message) => {
    const r = lightvit(...args);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /); // a message, not a stack trace
    expect(fs.existsSync(path.join(dataDir, 'results'))).toBe(false); // nothing trained, nothing stored
  });

  it('unknown commands suggest the nearest; --version prints the kit version', () => {
    const u = lightvit('trian');
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/unknown command 'trian' \(did you mean 'train'\?\)/);
    const v = lightvit('--version');
    expect(v.code).toBe(0);
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(v.out.trim()).toBe(`lightvit ${pkg.version}`);
  });

  it('the papers in help come from their registerPaper calls', () => {
    const h = lightvit('reproduce', '--help');
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/--paper P\s+one paper: mlit, mae, mobile-vmoe, dwnet, eit/);
    expect(h.out).toMatch(/Papers: mlit, mae, mobile-vmoe, dwnet, eit\./);
  });

  it('help is generated from the flag declarations: every flag train accepts is listed with its form', () => {
    const h = lightvit('train', '--help');
    expect(h.code).toBe(0);
    for (const f of [
      '--data',
      '--scale smoke|quick|paper',
      '--set key=value',
      '--epochs N',
      '--batch N',
      '--lr X',
      '--seed N',
      '--resume',
      '--out FILE',
      '--checkpoint FILE',
      '--backend',
    ]) {
      expect(h.out).toContain(f);
    }
  });

  it("the cpu backend does not print tfjs's 'Hi, looks like you are running TensorFlow.js in Node.js' banner", () => {
    const r = lightvit('params', 'vit-tiny-test', '--backend', 'cpu');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/params/);
    expect(r.out + r.err).not.toMatch(/looks like you are running TensorFlow\.js/);
    // the bench switches engines itself (tf.setBackend('cpu')), not through initBackend: silent there too
    const b = lightvit(
      'bench',
      '--models',
      'bench-vit',
      '--engines',
      'cpu',
      '--batch',
      '2',
      '--steps',
      '1',
      '--warmup',
      '0',
      '--rounds',
      '1',
      '--no-torch',
      '--cpu-steps',
      '1',
    );
    expect(b.code, b.err).toBe(0);
    expect(b.out).toMatch(/bench-vit/);
    expect(b.out + b.err).not.toMatch(/looks like you are running TensorFlow\.js/);
  });
});

describe('lightvit info', () => {
  it('names the Python the PyTorch twins run on (Debian first), in text and JSON', async () => {
    const { findTorchPython } = await import('../src/bench/torch');
    const want = findTorchPython();
    const j = lightvit('info', '--json');
    expect(j.code).toBe(0);
    expect(JSON.parse(j.out).torch).toEqual(want);
    const t = lightvit('info');
    const line =
      'python' in want
        ? `  torch     found ${want.python} (PyTorch twins of npm run bench)`
        : `  torch     not found — ${want.missing}`;
    expect(t.out.split('\n')).toContain(line);
  });
});
