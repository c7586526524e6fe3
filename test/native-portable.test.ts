import { describe, it, expect } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

/**
 * The addon's portable GEMM (what machines without a CBLAS get): built here with LIGHTVIT_NATIVE_BLAS=0 into a
 * temporary directory, then checked in a fresh process against a plain JS triple loop (every transpose mode, odd and
 * blocked sizes, k = 0, bias and activation epilogues, broadcast batches) and, through LIGHTVIT_NATIVE_ADDON, on a
 * whole training step of the kit against plain wasm.
 */

const root = path.resolve(__dirname, '..');
/** spawnSync's result without blocking the test worker (a blocked worker misses vitest's RPC deadlines under load). */
function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { env });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('error', reject);
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const hasCompiler = ['c++', 'g++', 'clang++'].some((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);

describe('native addon, portable GEMM (no CBLAS)', () => {
  it.skipIf(!hasCompiler)(
    'builds with LIGHTVIT_NATIVE_BLAS=0 and matches a JS reference GEMM and plain wasm training',
    async () => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-portable-'));
      try {
        const b = await run(
          process.execPath,
          [path.join(root, 'scripts', 'build-native.js'), '--strict', '--out', out],
          {
            ...process.env,
            LIGHTVIT_NATIVE_BLAS: '0',
          },
        );
        expect(b.status, b.stdout + b.stderr).toBe(0);
        expect(b.stdout).toMatch(/GEMM: portable/);
        const addon = path.join(out, 'native', 'build', 'Release', 'lightvit_native.node');
        const script = `
        const a = require(${JSON.stringify(addon)});
        if (a.info().gemm !== 'portable') throw new Error('expected the portable GEMM, got ' + a.info().gemm);
        let seed = 7;
        const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
        let worst = 0;
        const cases = [[1,1,1],[7,5,3],[64,96,48],[65,97,130],[300,17,260],[33,300,9],[5,4,0]];
        for (const threads of [1, 2]) {
          a.setThreads(threads);
          const shapes = [[1, false, 0], [3, true, 1], [2, false, 4]];
          for (const [m, n, k] of cases) for (const ta of [false, true]) for (const tb of [false, true])
          for (const [batch, bcastB, act] of shapes) {
            const A = Float32Array.from({ length: batch * m * k }, rnd);
            const B = Float32Array.from({ length: (bcastB ? 1 : batch) * k * n }, rnd);
            const bias = Float32Array.from({ length: n }, rnd);
            const buf = new ArrayBuffer(4 * (A.length + B.length + bias.length + batch * m * n));
            const f = new Float32Array(buf);
            f.set(A, 0); f.set(B, A.length); f.set(bias, A.length + B.length);
            const cOff = A.length + B.length + bias.length;
            a.gemm(buf, 0, 4 * A.length, 4 * cOff, 4 * (A.length + B.length), batch, m, n, k, ta, tb,
              m * k, bcastB ? 0 : k * n, n, act, 0.2);
            for (let q = 0; q < batch; q++) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
              let s = 0;
              for (let p = 0; p < k; p++) {
                s += A[q * m * k + (ta ? p * m + i : i * k + p)] *
                  B[(bcastB ? 0 : q * k * n) + (tb ? j * k + p : p * n + j)];
              }
              s += bias[j];
              if (act === 1) s = Math.max(0, s);
              if (act === 4) s = 1 / (1 + Math.exp(-s));
              worst = Math.max(worst, Math.abs(f[cOff + (q * m + i) * n + j] - s) / Math.max(1, Math.abs(s)));
            }
          }
        }
        console.log(JSON.stringify({ worst }));
      `;
        const r = await run(process.execPath, ['-e', script]);
        expect(r.status, r.stderr).toBe(0);
        const { worst } = JSON.parse(r.stdout.trim().split('\n').pop()!);
        console.log(`portable GEMM max relative error vs JS: ${worst}`);
        expect(worst).toBeLessThanOrEqual(1e-4);

        // the kit through it: 4 training steps of the bench ViT, native (portable GEMM) vs plain wasm, same losses
        const step = `
        const { runBench } = require(${JSON.stringify(path.join(root, 'dist', 'bench'))});
        runBench(['--json', '--models', 'bench-vit', '--engines', 'wasm,wasm+native', '--threads', '2', '--batch', '4',
          '--steps', '3', '--warmup', '1', '--rounds', '1', '--no-torch']);
      `;
        const k = await run(process.execPath, ['-e', step], { ...process.env, LIGHTVIT_NATIVE_ADDON: addon });
        expect(k.status, k.stderr).toBe(0);
        const rows = k.stdout
          .split('\n')
          .filter((l) => l.startsWith('{"model"'))
          .map((l) => JSON.parse(l) as { engine: string; final_loss: number });
        const plain = rows.find((r) => r.engine === 'wasm')!;
        const nat = rows.find((r) => r.engine === 'wasm+native')!;
        expect(nat, k.stdout).toBeDefined();
        expect(Math.abs(nat.final_loss - plain.final_loss)).toBeLessThan(
          1e-3 * Math.max(1, Math.abs(plain.final_loss)),
        );
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    },
    300_000,
  );
});
