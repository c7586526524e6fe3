import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';

/** Shared between test/notebooks.test.ts and scripts/run-notebook.js (the same runner, as a child process). */
export const ROOT = path.resolve(__dirname, '..', '..');
export const RUNNER = path.join(ROOT, 'scripts', 'run-notebook.js');

// eslint-disable-next-line @typescript-eslint/no-var-requires
const runner = require(RUNNER) as {
  ensureDist(o?: { log?: (m: string) => void }): boolean;
  readNotebook(file: string): {
    cells: Array<{
      cell_type: string;
      outputs?: unknown[];
      execution_count?: number | null;
      source: string | string[];
    }>;
  };
};
export const { ensureDist, readNotebook } = runner;

export function listNotebooks(): string[] {
  const dir = path.join(ROOT, 'notebooks');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb'))
    .sort()
    .map((f) => path.join(dir, f));
}

export interface NotebookRun {
  file: string;
  ok: boolean;
  cells: number;
  seconds: number;
  failure?: { cell: number; codeCell: number; error: string };
  log: string;
}

/**
 * Execute a notebook top to bottom in a fresh node process (tfjs state is per process) at `smoke` scale, with data
 * and figures in temporary folders.
 */
export function runNotebookChild(
  file: string,
  opts: { env?: Record<string, string>; saveDir?: string } = {},
): Promise<NotebookRun> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-nb-'));
  const json = path.join(tmp, 'result.json');
  const args = [RUNNER, '--no-build', '--json', json, ...(opts.saveDir ? ['--save-dir', opts.saveDir] : []), file];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: {
        ...process.env,
        LIGHTVIT_SCALE: 'smoke',
        LIGHTVIT_DATA_DIR: path.join(tmp, 'data'),
        LIGHTVIT_FIGURES_DIR: path.join(tmp, 'figures'),
        LIGHTVIT_NOTEBOOK_PNG: '0',
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (!fs.existsSync(json))
        return reject(new Error(`run-notebook exited ${code} without a result:\n${log.slice(-4000)}`));
      const [r] = JSON.parse(fs.readFileSync(json, 'utf8')) as NotebookRun[];
      resolve({ ...r, log });
    });
  });
}
