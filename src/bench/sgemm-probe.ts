import { loadAddon, addonLoadError } from '../backend/native-addon';

/**
 * Achieved sgemm GFLOP/s of the native addon on [m×k]·[k×n] (default the bench's [4096×96]·[96×288]) with `threads`
 * threads, best of the repetitions that fit in `seconds`: the reference peak for the benchmark's GFLOP/s column.
 * Restores the previous thread count.
 */
export function measureSgemmGflops(threads = 1, m = 4096, k = 96, n = 288, seconds = 0.5): number {
  const a = loadAddon();
  if (!a) throw new Error(`measureSgemmGflops: ${addonLoadError()}`);
  const before = a.info().threads;
  a.setThreads(threads);
  try {
    const buf = new ArrayBuffer(4 * (m * k + k * n + m * n));
    const f = new Float32Array(buf);
    for (let i = 0; i < m * k + k * n; i++) f[i] = ((i * 7919) % 1000) / 1000 - 0.5;
    const call = () => a.gemm(buf, 0, 4 * m * k, 4 * (m * k + k * n), -1, 1, m, n, k, false, false, 0, 0, 0, 0, 0);
    call();
    let reps = 0;
    let best = Infinity;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000 || reps < 3) {
      const t = performance.now();
      call();
      best = Math.min(best, performance.now() - t);
      reps++;
    }
    return (2 * m * n * k) / (best * 1e6);
  } finally {
    a.setThreads(before);
  }
}
