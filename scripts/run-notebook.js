#!/usr/bin/env node
'use strict';
/**
 * Run tslab notebooks top to bottom without Jupyter or Python, through tslab's own TypeScript converter and
 * executor (the code path the kernel uses), with tslab's display API captured.
 *
 *   node scripts/run-notebook.js notebooks/00-getting-started.ipynb [more.ipynb ...]
 *     --save-dir DIR   write each executed notebook (with outputs) to DIR
 *     --json FILE      write a machine-readable summary (used by test/notebooks.test.ts)
 *     --no-build       do not rebuild dist/ when src/ is newer
 *     --quiet          print only the per-notebook result lines
 *
 *   node scripts/run-notebook.js --trust notebooks/*.ipynb
 *     signs notebooks executed elsewhere (e.g. by jupyter nbconvert) so that Jupyter trusts them and draws their
 *     interactive figures on opening (what `jupyter trust` does; Debian's Jupyter packages lack that command)
 *
 *   node scripts/run-notebook.js --jupyter [flags for Jupyter ...]   (npm run notebook -- --no-browser --port 8899)
 *     finds a Jupyter that can start a server (PATH first, then /usr/bin, /usr/local/bin: a pyenv or conda python3
 *     without Jupyter does not hide Debian's apt Jupyter), registers the tslab kernel for the Python that Jupyter
 *     runs on, signs the notebooks as trusted, and opens Jupyter Lab (or Notebook) in notebooks/; as root it adds
 *     --allow-root. Every flag after --jupyter goes to Jupyter unchanged. When no Jupyter can, it says what each
 *     one found lacks and how to install one.
 *
 * Notebooks import the kit by package name ('lightvit-lab'), which resolves to the built dist/; it is rebuilt with
 * `tsc -p tsconfig.build.json` first when any src/ file is newer. Exit code 1 when any cell fails.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');

function newestMtime(dir, ext) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (e.name.endsWith(ext)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** Rebuild dist/ when it is missing or older than any src/ file. Returns whether a build ran. */
function ensureDist({ log = console.log } = {}) {
  const stamp = path.join(ROOT, 'dist', 'index.js');
  const built = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
  if (built && newestMtime(path.join(ROOT, 'src'), '.ts') <= built) return false;
  log(
    built
      ? 'src/ is newer than dist/: rebuilding (tsc -p tsconfig.build.json)'
      : 'dist/ missing: building (tsc -p tsconfig.build.json)',
  );
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) {
    // tsc still emits on type errors; a half-edited file elsewhere should not stop notebooks that do not use it.
    const errs = (r.stdout + r.stderr).split('\n').filter((l) => /error TS/.test(l));
    log(
      `tsc reported ${errs.length} type error(s); dist/ was still emitted. First: ${errs[0] ?? (r.stderr || '').trim()}`,
    );
    if (!fs.existsSync(stamp)) throw new Error(`building dist/ failed:\n${r.stdout}${r.stderr}`);
  }
  return true;
}

function cellSource(cell) {
  return Array.isArray(cell.source) ? cell.source.join('') : String(cell.source ?? '');
}

function readNotebook(file) {
  let nb;
  try {
    nb = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file} is not a readable notebook (${e.message}); expected nbformat 4 JSON`);
  }
  if (nb.nbformat !== 4 || !Array.isArray(nb.cells))
    throw new Error(`${file} has nbformat=${nb.nbformat}; expected 4 with a cells array`);
  return nb;
}

function splitLines(text) {
  const lines = text.split('\n');
  return lines.map((l, i) => (i < lines.length - 1 ? `${l}\n` : l)).filter((l) => l !== '');
}

/**
 * Execute one notebook's code cells in order in this process. Returns { file, ok, cells, seconds, failure?, nb }
 * where failure = { cell (1-based among all cells), codeCell (1-based among code cells), error }.
 */
async function runNotebook(file, { quiet = false } = {}) {
  const abs = path.resolve(file);
  const nb = readNotebook(abs);
  const dir = path.dirname(abs);
  const { createConverter } = require(require.resolve('tslab/dist/converter', { paths: [ROOT] }));
  const { createExecutor } = require(require.resolve('tslab/dist/executor', { paths: [ROOT] }));
  const jupyter = require(require.resolve('tslab/dist/jupyter', { paths: [ROOT] }));

  let outputs = null; // outputs of the running cell
  const byDisplayId = new Map();
  const stream = (name, text) => {
    if (!outputs || !text) return;
    const last = outputs[outputs.length - 1];
    if (last && last.output_type === 'stream' && last.name === name) last.text.push(...splitLines(text));
    else outputs.push({ output_type: 'stream', name, text: splitLines(text) });
  };
  jupyter.lastWriteDisplayData = (msg, update) => {
    const id = msg.transient?.display_id;
    const out = { output_type: 'display_data', data: msg.data, metadata: msg.metadata || {} };
    if (update && id && byDisplayId.has(id)) {
      Object.assign(byDisplayId.get(id), out);
      return;
    }
    if (id) byDisplayId.set(id, out);
    if (outputs) outputs.push(out);
    if (!quiet) {
      const kinds = Object.keys(msg.data || {});
      if (kinds.includes('text/plain')) process.stdout.write(`${msg.data['text/plain']}\n`);
      else process.stdout.write(`[display ${kinds.join(', ')}]\n`);
    }
  };

  const errors = [];
  const kernelConsole = {
    log: (...a) => {
      const s = a.map((x) => (typeof x === 'string' ? x : require('node:util').inspect(x))).join(' ');
      stream('stdout', `${s}\n`);
      if (!quiet) process.stdout.write(`${s}\n`);
    },
    error: (...a) => {
      const s = require('node:util').format(...a);
      errors.push(s);
      stream('stderr', `${s}\n`);
      if (!quiet) process.stderr.write(`${s}\n`);
    },
  };
  const conv = createConverter({ isJS: false, isBrowser: false });
  const executor = createExecutor(dir, { node: conv, browser: conv, close: () => conv.close() }, kernelConsole);

  const cwd = process.cwd();
  const realLog = console.log;
  const realErr = console.error;
  const realWarn = console.warn;
  const t0 = Date.now();
  let failure;
  let codeCell = 0;
  process.chdir(dir);
  try {
    for (let i = 0; i < nb.cells.length; i++) {
      const cell = nb.cells[i];
      if (cell.cell_type !== 'code') continue;
      codeCell++;
      const src = cellSource(cell);
      outputs = [];
      cell.outputs = outputs;
      cell.execution_count = codeCell;
      if (!src.trim()) continue;
      if (!quiet) process.stdout.write(`--- cell ${i + 1} (code cell ${codeCell})\n`);
      errors.length = 0;
      console.log = (...a) => kernelConsole.log(...a);
      console.warn = console.error = (...a) => {
        const s = require('node:util').format(...a);
        stream('stderr', `${s}\n`);
        if (!quiet) process.stderr.write(`${s}\n`);
      };
      let ok;
      const tc = Date.now();
      try {
        ok = await executor.execute(src);
      } catch (e) {
        ok = false;
        errors.push(e?.stack ? e.stack : String(e));
      } finally {
        console.log = realLog;
        console.error = realErr;
        console.warn = realWarn;
      }
      if (!quiet) process.stdout.write(`    (${((Date.now() - tc) / 1000).toFixed(1)} s)\n`);
      if (!ok) {
        failure = { cell: i + 1, codeCell, error: errors.join('\n') || 'execution failed (no message)' };
        // Lead with the message (a thrown error or a type error), not the source excerpt node prints first.
        const head = failure.error.split('\n').find((l) => /^\s*(\w*Error\b|\d+:\d+ - )/.test(l));
        if (head && !failure.error.startsWith(head)) failure.error = `${head.trim()}\n${failure.error}`;
        const undef = /ReferenceError: (\w+) is not defined/.exec(failure.error);
        if (undef && new RegExp(`[{,]\\s*${undef[1]}\\s*[,}]`).test(src)) {
          // tslab 1.0.22 does not rewrite object shorthand for variables declared in earlier cells.
          failure.error = `${failure.error.split('\n')[0]} (hint: tslab does not carry variables from earlier cells into object shorthand; write { ${undef[1]}: ${undef[1]} } instead of { ${undef[1]} })\n${failure.error}`;
        }
        outputs.push({
          output_type: 'error',
          ename: 'Error',
          evalue: failure.error.split('\n')[0],
          traceback: splitLines(failure.error),
        });
        break;
      }
    }
  } finally {
    process.chdir(cwd);
    outputs = null;
    try {
      executor.close();
    } catch {
      /* already closed */
    }
  }
  return { file, ok: !failure, cells: codeCell, seconds: (Date.now() - t0) / 1000, failure, nb };
}

/** Jupyter's command line: server ('lab' or 'notebook'), --allow-root for root unless given, then the user's flags. */
function jupyterLaunchArgs({ server, uid, extra = [] }) {
  const args = [server];
  if (uid === 0 && !extra.includes('--allow-root')) args.push('--allow-root');
  return args.concat(extra);
}

/** `tslab install` arguments: the Python that Jupyter runs on, the local tslab binary. */
function tslabInstallArgs({ python, tslab, prefix }) {
  return ['install', `--python=${python}`, `--binary=${tslab}`, ...(prefix ? [`--prefix=${prefix}`] : [])];
}

/** Python that signs notebooks (nbformat's notary, what `jupyter trust` runs): Jupyter then trusts their outputs. */
const SIGN_PY =
  'import sys, nbformat\nfrom nbformat.sign import NotebookNotary\nn = NotebookNotary()\n' +
  'for f in sys.argv[1:]:\n    n.sign(nbformat.read(f, as_version=4))\n';

/** Sign notebooks as trusted with the Python Jupyter runs on; true when it worked. */
function signNotebooks(python, files, env = process.env) {
  const r = spawnSync(python, ['-c', SIGN_PY, ...files], { env, stdio: 'pipe', encoding: 'utf8' });
  return r.status === 0;
}

const INSTALL_HELP = [
  'Install Jupyter one of these ways, then run `npm run notebook` again:',
  '  Debian/Ubuntu: sudo apt-get install jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel',
  '  macOS:         brew install jupyterlab   (or pipx install jupyterlab)',
  '  any Python that refuses pip ("externally-managed-environment"):',
  '                 pipx install jupyterlab   (or: python3 -m venv ~/.venvs/jupyter && ~/.venvs/jupyter/bin/pip install jupyterlab,',
  '                 then put ~/.venvs/jupyter/bin on PATH)',
  'Meanwhile `node scripts/run-notebook.js notebooks/<name>.ipynb` runs a notebook headless, without Jupyter.',
].join('\n');

/** `--trust FILE...`: sign notebooks with the Python of the Jupyter found (see openJupyter). Returns the exit code. */
function trustNotebooks(files) {
  if (!files.length)
    throw new Error('--trust needs notebook files, e.g. node scripts/run-notebook.js --trust notebooks/*.ipynb');
  ensureDist();
  const { chosen, candidates } = require(path.join(ROOT, 'dist', 'backend', 'env.js')).findJupyter(process.env);
  const python = (chosen || candidates.find((c) => c.python))?.python || 'python3';
  if (!signNotebooks(python, files)) {
    process.stderr.write(
      `signing with ${python} failed: it needs the nbformat module (Debian: apt-get install python3-nbformat)\n`,
    );
    return 1;
  }
  process.stdout.write(`signed ${files.length} notebook(s) with ${python}: Jupyter trusts them now\n`);
  return 0;
}

/**
 * `npm run notebook`: find a Jupyter that can start a server, register the tslab kernel for its Python, sign the
 * notebooks, start Jupyter in notebooks/ with the extra flags. Returns the exit code.
 */
function openJupyter(extra = [], { probe } = {}) {
  const bin = path.join(ROOT, 'node_modules', '.bin');
  const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH || ''}` };
  ensureDist();
  const envMod = require(path.join(ROOT, 'dist', 'backend', 'env.js'));
  const { chosen, candidates } = (probe || envMod.findJupyter)(env);
  if (!chosen) {
    const found = candidates.length
      ? candidates.map((c) => `  ${c.path}: ${c.missing.join(', ')}`).join('\n')
      : '  no `jupyter` on PATH, in /usr/bin or in /usr/local/bin';
    process.stdout.write(`No Jupyter that can start a notebook server was found:\n${found}\n${INSTALL_HELP}\n`);
    return 1;
  }
  const server = chosen.lab ? 'lab' : 'notebook';
  const python = chosen.python || 'python3';
  process.stdout.write(`Jupyter: ${chosen.path} (${server}, Python ${python})\n`);
  if (!chosen.kernelspec) {
    process.stdout.write(
      'note: `jupyter kernelspec` is missing (Debian: apt-get install jupyter-client); registering tslab anyway\n',
    );
  }
  const tslab = path.join(bin, process.platform === 'win32' ? 'tslab.cmd' : 'tslab');
  const inst = spawnSync(tslab, tslabInstallArgs({ python, tslab }), { env, stdio: 'inherit' });
  if (inst.status !== 0) {
    process.stderr.write(
      `tslab install --python=${python} failed (exit ${inst.status}): that Python needs the jupyter_client module ` +
        '(Debian: apt-get install jupyter-client python3-ipykernel).\n',
    );
    return 1;
  }
  // Executed notebooks are signed so that Jupyter shows their interactive figures ("Trusted") on reopening.
  const nbs = fs
    .readdirSync(path.join(ROOT, 'notebooks'))
    .filter((f) => f.endsWith('.ipynb'))
    .map((f) => path.join(ROOT, 'notebooks', f));
  if (nbs.length) signNotebooks(python, nbs, env);
  const args = jupyterLaunchArgs({ server, uid: typeof process.getuid === 'function' ? process.getuid() : -1, extra });
  process.stdout.write(`starting: ${chosen.path} ${args.join(' ')}\n`);
  const r = spawnSync(chosen.path, args, { cwd: path.join(ROOT, 'notebooks'), env, stdio: 'inherit' });
  return r.status ?? 0;
}

async function main(argv) {
  if (argv[0] === '--jupyter') return openJupyter(argv.slice(1));
  if (argv[0] === '--trust') return trustNotebooks(argv.slice(1));
  const files = [];
  let saveDir = null;
  let jsonFile = null;
  let build = true;
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--save-dir') saveDir = argv[++i];
    else if (a === '--json') jsonFile = argv[++i];
    else if (a === '--no-build') build = false;
    else if (a === '--quiet') quiet = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(
        `${fs
          .readFileSync(__filename, 'utf8')
          .split('*/')[0]
          .replace(/^[\s\S]*?\/\*\*/, '')}\n`,
      );
      return 0;
    } else if (a.startsWith('--'))
      throw new Error(`unknown option ${a}; expected --save-dir DIR, --json FILE, --no-build, --quiet`);
    else files.push(a);
  }
  if (!files.length) throw new Error('no notebook given; usage: node scripts/run-notebook.js notebooks/X.ipynb [...]');
  if (build) ensureDist({ log: (m) => process.stderr.write(`${m}\n`) });
  const results = [];
  for (const f of files) {
    let r;
    try {
      r = await runNotebook(f, { quiet });
    } catch (e) {
      r = { file: f, ok: false, cells: 0, seconds: 0, failure: { cell: 0, codeCell: 0, error: e.message } };
    }
    results.push(r);
    const line = r.ok
      ? `ok   ${f}: ${r.cells} code cells in ${r.seconds.toFixed(1)} s`
      : `FAIL ${f}: cell ${r.failure.cell} (code cell ${r.failure.codeCell}): ${r.failure.error.split('\n')[0]}`;
    process.stdout.write(`${line}\n`);
    if (saveDir && r.nb) {
      fs.mkdirSync(saveDir, { recursive: true });
      fs.writeFileSync(path.join(saveDir, path.basename(f)), `${JSON.stringify(r.nb, null, 1)}\n`);
    }
  }
  if (jsonFile) {
    fs.writeFileSync(
      jsonFile,
      JSON.stringify(
        results.map(({ nb, ...rest }) => rest),
        null,
        2,
      ),
    );
  }
  return results.every((r) => r.ok) ? 0 : 1;
}

module.exports = {
  runNotebook,
  ensureDist,
  readNotebook,
  cellSource,
  jupyterLaunchArgs,
  tslabInstallArgs,
  openJupyter,
  signNotebooks,
  INSTALL_HELP,
};

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    },
  );
}
