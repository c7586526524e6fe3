import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync, spawn } from 'node:child_process';
import { ensureDist, listNotebooks, ROOT } from './helpers/notebook-runner';

/**
 * The same notebooks executed the way a user's Jupyter does: `jupyter nbconvert --execute` with the tslab kernel
 * (registered into a temporary prefix, so nothing outside the test changes). Skipped, with one line, where
 * Jupyter's nbconvert is not installed; CI installs it (apt-get install jupyter-nbconvert python3-nbclient
 * jupyter-client python3-ipykernel).
 */
const jupyter = spawnSync('jupyter', ['nbconvert', '--version'], { encoding: 'utf8' });
const hasNbconvert = jupyter.status === 0;
if (!hasNbconvert)
  console.log(
    'notebooks via Jupyter skipped: jupyter nbconvert not found (apt-get install jupyter-nbconvert ' +
      'python3-nbclient jupyter-client python3-ipykernel)',
  );

const only = (process.env.LIGHTVIT_NOTEBOOKS ?? '').split(',').filter(Boolean);
const notebooks = listNotebooks().filter((f) => !only.length || only.some((p) => path.basename(f).startsWith(p)));
const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-jupyter-'));

function pythonForJupyter(): string {
  // the interpreter Jupyter itself runs on (Debian's python3 for apt's Jupyter; may differ from `python3` on PATH)
  const head = fs
    .readFileSync(spawnSync('which', ['jupyter'], { encoding: 'utf8' }).stdout.trim(), 'utf8')
    .split('\n')[0];
  const m = /^#!\s*(\S+)/.exec(head);
  return m && !m[1].endsWith('/env') ? m[1] : 'python3';
}

describe.skipIf(!hasNbconvert)('notebooks via jupyter nbconvert and the tslab kernel', () => {
  beforeAll(() => {
    ensureDist({ log: () => undefined });
    const tslab = path.join(ROOT, 'node_modules', '.bin', 'tslab');
    const r = spawnSync(
      tslab,
      ['install', `--python=${pythonForJupyter()}`, `--binary=${tslab}`, `--prefix=${prefix}`],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`tslab install failed: ${r.stderr || r.stdout}`);
  }, 300_000);

  for (const file of notebooks) {
    it(`${path.basename(file)} executes with nbconvert at smoke scale`, async () => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-nbconvert-'));
      const env = {
        ...process.env,
        JUPYTER_PATH: path.join(prefix, 'share', 'jupyter'),
        LIGHTVIT_SCALE: 'smoke',
        LIGHTVIT_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'lv-nbconvert-data-')),
        LIGHTVIT_FIGURES_DIR: path.join(out, 'figures'),
        LIGHTVIT_NOTEBOOK_PNG: '0',
      };
      const args = [
        'nbconvert',
        '--to',
        'notebook',
        '--execute',
        '--ExecutePreprocessor.kernel_name=tslab',
        '--ExecutePreprocessor.timeout=900',
        '--output-dir',
        out,
        file,
      ];
      const res = await new Promise<{ code: number | null; log: string }>((resolve) => {
        const p = spawn('jupyter', args, { cwd: path.dirname(file), env });
        let log = '';
        p.stdout.on('data', (d) => (log += d));
        p.stderr.on('data', (d) => (log += d));
        p.on('close', (code) => resolve({ code, log }));
      });
      expect(res.code, res.log.slice(-4000)).toBe(0);
      const executed = JSON.parse(fs.readFileSync(path.join(out, path.basename(file)), 'utf8')) as {
        nbformat_minor: number;
        cells: Array<{
          id?: string;
          cell_type: string;
          outputs?: Array<{ output_type: string; name?: string; text?: string | string[] }>;
        }>;
      };
      const errors = executed.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === 'error');
      expect(errors).toEqual([]);
      // progress is an in-place display, never stderr text (shown pink in Jupyter)
      const stderr = executed.cells
        .flatMap((c) => c.outputs ?? [])
        .filter((o) => o.output_type === 'stream' && o.name === 'stderr');
      expect(stderr.map((o) => (Array.isArray(o.text) ? o.text.join('') : (o.text ?? '')).slice(0, 300))).toEqual([]);
      // nbformat 4.5 cell ids: nbconvert does not warn, Jupyter does not mark the notebook modified on open
      expect(executed.nbformat_minor).toBeGreaterThanOrEqual(5);
      expect(executed.cells.every((c) => typeof c.id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(c.id))).toBe(true);
      expect(res.log).not.toMatch(/MissingIDFieldWarning/);
    }, 1_200_000);
  }
});
