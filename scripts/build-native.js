#!/usr/bin/env node
'use strict';
/**
 * Build the optional native kernels (native/ → native/build/Release/lightvit_native.node) with node-gyp, offline.
 *
 *   node scripts/build-native.js            build; ALWAYS exits 0 and prints one line (npm "install" runs this)
 *   node scripts/build-native.js --strict   build; exits 1 on failure (CI)
 *   node scripts/build-native.js --out DIR  build a copy of native/ in DIR (DIR/native/build/Release/…); with
 *                                           LIGHTVIT_NATIVE_BLAS=0 the tests build the portable-GEMM variant this way
 *   node scripts/build-native.js --detect   print the detected toolchain and BLAS as JSON
 *   node scripts/build-native.js --gyp KEY  print gyp flags for KEY (include_dirs|defines|libraries|cflags);
 *                                           binding.gyp calls this so detection lives in one place
 *
 * GEMM uses the system CBLAS when its header and library link (OpenBLAS or another CBLAS on Linux, Accelerate on
 * macOS). On Linux without BLAS headers the addon opens a BLAS runtime when it loads (libopenblas.so.0 from Debian's
 * libopenblas0, or BLIS; see native/src/gemm.h) and falls back to its portable GEMM when there is none.
 * LIGHTVIT_NATIVE_BLAS=0 forces the portable path.
 * If anything fails the kit runs on plain wasm, and `lightvit info` / nativeStatus() says why.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const cp = require('node:child_process');

const root = path.resolve(__dirname, '..');
const nativeDir = path.join(root, 'native');

function which(cmd) {
  const r = cp.spawnSync(
    process.platform === 'win32' ? 'where' : 'sh',
    process.platform === 'win32' ? [cmd] : ['-c', `command -v ${cmd}`],
    { encoding: 'utf8' },
  );
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : null;
}

function compiler() {
  if (process.env.CXX) return process.env.CXX;
  for (const c of ['c++', 'g++', 'clang++']) if (which(c)) return c;
  return null;
}

/** Compile and link a small program calling cblas_sgemm; true when it links. */
function linkTest(cxx, includeDir, libArgs, extraDefines = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-blas-'));
  try {
    const src = path.join(dir, 't.cc');
    const hdr = extraDefines.includes('LV_ACCELERATE') ? '<Accelerate/Accelerate.h>' : '<cblas.h>';
    fs.writeFileSync(
      src,
      `#include ${hdr}\nint main(){float a=1,b=1,c=0;cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,1,1,1,1.f,&a,1,&b,1,0.f,&c,1);return c==1.f?0:1;}\n`,
    );
    const args = [src, '-o', path.join(dir, 't'), ...(includeDir ? ['-I', includeDir] : []), ...libArgs];
    const r = cp.spawnSync(cxx, args, { encoding: 'utf8' });
    if (r.status !== 0) return false;
    return cp.spawnSync(path.join(dir, 't')).status === 0;
  } catch {
    return false;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function flagWorks(cxx, flag) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-flag-'));
  try {
    const src = path.join(dir, 't.cc');
    fs.writeFileSync(src, 'int main(){return 0;}\n');
    return cp.spawnSync(cxx, [flag, '-c', src, '-o', path.join(dir, 't.o')]).status === 0;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function globDirs(base, re) {
  try {
    return fs
      .readdirSync(base)
      .filter((d) => re.test(d))
      .map((d) => path.join(base, d));
  } catch {
    return [];
  }
}

function detect() {
  const cxx = compiler();
  const out = { cxx, blas: 'portable', include_dirs: [], defines: [], libraries: [], cflags: [], note: '' };
  const addonApi = (() => {
    try {
      return path.dirname(require.resolve('node-addon-api/napi.h', { paths: [root] }));
    } catch {
      return null;
    }
  })();
  if (addonApi) out.include_dirs.push(addonApi);
  if (!cxx) return { ...out, note: 'no C++ compiler found (c++, g++, clang++ or $CXX)' };
  if (process.platform !== 'win32' && process.arch === 'x64' && flagWorks(cxx, '-march=native'))
    out.cflags.push('-march=native');
  if (process.env.LIGHTVIT_NATIVE_BLAS === '0') {
    return { ...out, defines: ['LV_NO_DLBLAS'], note: 'LIGHTVIT_NATIVE_BLAS=0: portable GEMM' };
  }
  if (process.platform === 'darwin') {
    if (linkTest(cxx, null, ['-framework', 'Accelerate'], ['LV_ACCELERATE'])) {
      return {
        ...out,
        blas: 'Accelerate',
        defines: ['LV_HAVE_CBLAS', 'LV_ACCELERATE'],
        libraries: ['-framework Accelerate'],
      };
    }
  }
  const incCandidates = [
    process.env.LIGHTVIT_CBLAS_INCLUDE,
    '/usr/include',
    '/usr/include/openblas',
    ...globDirs('/usr/include', /linux-gnu$/).flatMap((d) => [...globDirs(d, /^openblas/), d]),
    '/usr/local/include',
    '/usr/local/opt/openblas/include',
    '/opt/homebrew/opt/openblas/include',
    '/usr/include/x86_64-linux-gnu',
  ].filter((d) => d && fs.existsSync(path.join(d, 'cblas.h')));
  const libDirCandidates = [
    process.env.LIGHTVIT_CBLAS_LIB,
    ...globDirs('/usr/lib', /linux-gnu$/).flatMap((d) => [d, ...globDirs(d, /^openblas/)]),
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
    '/usr/local/opt/openblas/lib',
    '/opt/homebrew/opt/openblas/lib',
  ].filter((d) => d && fs.existsSync(d));
  for (const inc of incCandidates) {
    for (const [lib, defs] of [
      ['openblas', ['LV_OPENBLAS']],
      ['cblas', []],
      ['blas', []],
    ]) {
      for (const dir of [null, ...libDirCandidates]) {
        const libArgs = dir ? [`-L${dir}`, `-Wl,-rpath,${dir}`, `-l${lib}`] : [`-l${lib}`];
        if (dir && !fs.readdirSync(dir).some((f) => f.startsWith(`lib${lib}.`))) continue;
        if (linkTest(cxx, inc, libArgs)) {
          return {
            ...out,
            blas: `lib${lib}`,
            include_dirs: [...out.include_dirs, inc],
            defines: ['LV_HAVE_CBLAS', ...defs],
            libraries: libArgs,
          };
        }
      }
    }
  }
  const why = incCandidates.length ? 'cblas.h found but no CBLAS library linked' : 'no cblas.h found';
  if (process.platform === 'linux') {
    return {
      ...out,
      blas: 'run-time',
      libraries: ['-ldl'],
      note: `${why}: a BLAS runtime (OpenBLAS, BLIS) is opened at load time, else portable GEMM`,
    };
  }
  return { ...out, note: `${why}: portable GEMM` };
}

function cachedDetect() {
  if (process.env.LIGHTVIT_NATIVE_DETECT) return JSON.parse(process.env.LIGHTVIT_NATIVE_DETECT);
  return detect();
}

function nodeGyp() {
  const npmDir = (() => {
    const npm = which('npm');
    return npm ? path.dirname(fs.realpathSync(npm)) : null;
  })();
  const candidates = [
    process.env.npm_config_node_gyp,
    npmDir && path.join(npmDir, '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    npmDir && path.join(npmDir, '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  return candidates.find((c) => c && fs.existsSync(c)) || null;
}

/** Node headers shipped with the running node (no download): <prefix>/include/node/node_api.h. */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

/** A copy of native/ (and this script, which binding.gyp calls) under `out`; returns the copy's native dir. */
function copyTree(out) {
  const dst = path.join(path.resolve(out), 'native');
  fs.mkdirSync(path.join(dst, 'src'), { recursive: true });
  fs.copyFileSync(path.join(nativeDir, 'binding.gyp'), path.join(dst, 'binding.gyp'));
  for (const f of fs.readdirSync(path.join(nativeDir, 'src')))
    fs.copyFileSync(path.join(nativeDir, 'src', f), path.join(dst, 'src', f));
  fs.mkdirSync(path.join(path.resolve(out), 'scripts'), { recursive: true });
  fs.copyFileSync(__filename, path.join(path.resolve(out), 'scripts', 'build-native.js'));
  return dst;
}

function build(out) {
  const d = detect();
  if (!d.cxx) throw new Error(d.note);
  const gyp = nodeGyp();
  if (!gyp) throw new Error('node-gyp not found (it ships with npm)');
  const dir = out ? copyTree(out) : nativeDir;
  const args = [gyp, 'rebuild', '--directory', dir];
  const nd = nodeDir();
  if (nd) args.push(`--nodedir=${nd}`);
  const r = cp.spawnSync(process.execPath, args, {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, LIGHTVIT_NATIVE_DETECT: JSON.stringify(d) },
  });
  if (r.status !== 0) {
    const log = `${r.stdout}\n${r.stderr}`;
    fs.mkdirSync(path.join(dir, 'build'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'build', 'build-native.log'), log);
    const err = log.split('\n').find((l) => /error/i.test(l)) || `node-gyp exited with ${r.status}`;
    throw new Error(
      `${err.trim().slice(0, 160)} (full log: ${path.relative(process.cwd(), path.join(dir, 'build', 'build-native.log'))})`,
    );
  }
  try {
    // what the addon actually uses (the run-time BLAS is found only when it loads)
    d.blas = require(path.join(dir, 'build', 'Release', 'lightvit_native.node')).info().gemm;
  } catch {
    // the kit reports load failures itself (lightvit info)
  }
  return d;
}

function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--gyp') {
    const v = cachedDetect()[argv[1]] || [];
    process.stdout.write(
      v.map((s) => (/\s/.test(s) && !s.startsWith('-framework') ? JSON.stringify(s) : s)).join('\n'),
    );
    return;
  }
  if (argv[0] === '--detect') {
    console.log(JSON.stringify(detect(), null, 2));
    return;
  }
  const strict = argv.includes('--strict');
  const outAt = argv.indexOf('--out');
  try {
    const d = build(outAt >= 0 ? argv[outAt + 1] : undefined);
    console.log(`lightvit native kernels built (GEMM: ${d.blas}${d.note ? `; ${d.note}` : ''})`);
  } catch (e) {
    console.log(
      `lightvit native kernels not built, the kit will run on plain wasm: ${String(e?.message || e).split('\n')[0]}`,
    );
    if (strict) process.exit(1);
  }
}

try {
  main();
} catch (e) {
  // npm install must never fail because of the optional addon
  console.log(
    `lightvit native kernels not built, the kit will run on plain wasm: ${String(e?.message || e).split('\n')[0]}`,
  );
  if (process.argv.includes('--strict')) process.exit(1);
}
