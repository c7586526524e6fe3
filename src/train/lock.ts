import * as fs from 'node:fs';
import * as path from 'node:path';
import { LightvitError } from '../util/errors';

/**
 * One process per run: a lock file `<checkpoint>.lock` holding the owner's pid, created exclusively. A second process
 * training the same run is refused with the holder's pid; a lock whose process is gone (killed) is taken over. Locks
 * are re-entrant within a process (the CLI holds the run's lock around training and writing its record).
 */
export class RunLockedError extends LightvitError {}

const held = new Map<string, number>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take the lock of the run whose checkpoint is `checkpoint`; returns the function that releases it. */
export function acquireRunLock(checkpoint: string): () => void {
  const file = `${checkpoint}.lock`;
  const count = held.get(file);
  if (count !== undefined) {
    held.set(file, count + 1);
    return once(file);
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      held.set(file, 1);
      return once(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let pid = NaN;
    try {
      pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    } catch {
      /* removed meanwhile: retry */
    }
    if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) {
      throw new RunLockedError(
        `this run is being trained by process ${pid} (lock ${file}); wait for it to finish or stop it ` +
          `(kill ${pid}); a lock left by a process that no longer exists is taken over`,
      );
    }
    fs.rmSync(file, { force: true }); // stale: its process is gone
  }
  throw new RunLockedError(`could not take the lock ${file}: another process keeps creating it`);
}

function once(file: string): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const n = (held.get(file) ?? 1) - 1;
    if (n > 0) {
      held.set(file, n);
      return;
    }
    held.delete(file);
    try {
      if (Number.parseInt(fs.readFileSync(file, 'utf8'), 10) === process.pid) fs.rmSync(file, { force: true });
    } catch {
      /* already gone */
    }
  };
}
