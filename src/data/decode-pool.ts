import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../util/fsx';

/**
 * Background decoding for streaming image folders: worker threads decode and resize the images of the next batch
 * while the current one trains. `prefetch(indices)` hands images to the workers, which write them into shared memory;
 * `take(index)` returns a prefetched image, waiting (Atomics.wait) until its worker is done, or null when the image
 * was never prefetched (the caller then decodes it itself). Results are the bytes the synchronous decoder gives: the
 * workers run the same compiled `image.js`.
 *
 * Threads: `LIGHTVIT_DECODE_THREADS`, else one fewer than the machine's cores (at least 1, at most 8); 0 turns the
 * pool off. Without the compiled decoder (running from TypeScript sources with no dist/ built) there is no pool.
 */

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { decodeImage, resizeToSquare } = require(workerData.imageModule);
const { size, per, slots } = workerData;
const bytes = new Uint8Array(workerData.sab, 0, slots * per);
const flags = new Int32Array(workerData.sab, slots * per, slots);
parentPort.on('message', ({ slot, file }) => {
  let state = 1;
  try {
    bytes.set(resizeToSquare(decodeImage(fs.readFileSync(file), file), size), slot * per);
  } catch {
    state = 2; // the caller decodes this image itself, which throws the decoder's own error
  }
  Atomics.store(flags, slot, state);
  Atomics.notify(flags, slot);
});
`;

/** The compiled decoder the workers load, or '' when there is none. */
function imageModule(): string {
  for (const p of [path.join(__dirname, 'image.js'), path.join(packageRoot(), 'dist', 'data', 'image.js')]) {
    if (fs.existsSync(p)) return p;
  }
  return '';
}

/** Worker threads a pool starts: LIGHTVIT_DECODE_THREADS, else cores − 1 (1..8). */
export function decodeThreads(env = process.env): number {
  const raw = env.LIGHTVIT_DECODE_THREADS;
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) {
      throw new Error(`LIGHTVIT_DECODE_THREADS=${raw}; expected a non-negative integer (0: decode on the main thread)`);
    }
    return Math.min(n, 64);
  }
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(8, cores - 1));
}

export class DecodePool {
  private readonly workers: Worker[] = [];
  private readonly per: number;
  private readonly bytes: Uint8Array;
  private readonly flags: Int32Array;
  private readonly slotOf = new Map<number, number>();
  private readonly free: number[];
  private turn = 0;

  /** A pool over `files` (index → path) decoding to `size`² RGB, with `slots` images in flight at most. */
  static open(files: string[], size: number, slots: number, threads = decodeThreads()): DecodePool | null {
    const mod = imageModule();
    if (!mod || threads < 1) return null;
    return new DecodePool(files, size, slots, threads, mod);
  }

  private constructor(
    private readonly files: string[],
    size: number,
    slots: number,
    threads: number,
    mod: string,
  ) {
    this.per = size * size * 3;
    const sab = new SharedArrayBuffer(slots * this.per + 4 * slots);
    this.bytes = new Uint8Array(sab, 0, slots * this.per);
    this.flags = new Int32Array(sab, slots * this.per, slots);
    this.free = Array.from({ length: slots }, (_, i) => slots - 1 - i);
    for (let t = 0; t < threads; t++) {
      const w = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { imageModule: mod, sab, size, per: this.per, slots },
      });
      // idle workers must not keep the process alive
      w.unref();
      this.workers.push(w);
    }
  }

  /** Start decoding these images (those not already in flight, while slots are free). */
  prefetch(indices: ArrayLike<number>): void {
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      if (this.slotOf.has(i)) continue;
      if (!this.free.length) this.reclaim();
      if (!this.free.length) return;
      const slot = this.free.pop()!;
      Atomics.store(this.flags, slot, 0);
      this.slotOf.set(i, slot);
      this.workers[this.turn++ % this.workers.length].postMessage({ slot, file: this.files[i] });
    }
  }

  /** A prefetched image's bytes (a copy), waiting for its worker; null when it was not prefetched or failed. */
  take(i: number): Uint8Array | null {
    const slot = this.slotOf.get(i);
    if (slot === undefined) return null;
    while (Atomics.load(this.flags, slot) === 0) Atomics.wait(this.flags, slot, 0, 1000);
    const ok = Atomics.load(this.flags, slot) === 1;
    const out = ok ? this.bytes.slice(slot * this.per, (slot + 1) * this.per) : null;
    this.slotOf.delete(i);
    this.free.push(slot);
    return out;
  }

  /** Free the slots of decoded images nobody took (oldest first: a batch prefetched but never asked for). */
  private reclaim(): void {
    for (const [i, slot] of this.slotOf) {
      if (Atomics.load(this.flags, slot) === 0) continue;
      this.slotOf.delete(i);
      this.free.push(slot);
      if (this.free.length >= 16) return;
    }
  }

  /** True once image `i` was prefetched and its worker has finished with it (decoded or failed). */
  ready(i: number): boolean {
    const slot = this.slotOf.get(i);
    return slot !== undefined && Atomics.load(this.flags, slot) !== 0;
  }

  /** Images in flight (prefetched, not yet taken). */
  get pending(): number {
    return this.slotOf.size;
  }

  close(): void {
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}
