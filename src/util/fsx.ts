import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Atomic file writes: write to a temporary sibling, fsync, then rename over the target. A crash leaves either the
 * old file or the new one, never a half-written one.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

export function readJson<T = unknown>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** Append one line (JSONL) with a single write call; a torn last line is skipped by readers. */
export function appendLine(file: string, line: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'a');
  try {
    fs.writeSync(fd, line.endsWith('\n') ? line : `${line}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Repository root (folder holding package.json of lightvit-lab), found from this file's location. */
export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'lightvit-lab') return dir;
      } catch {
        /* keep looking */
      }
    }
    dir = path.dirname(dir);
  }
  return process.cwd();
}

/** The data folder: $LIGHTVIT_DATA_DIR, else <repo>/data. */
export function dataDir(): string {
  return path.resolve(process.env.LIGHTVIT_DATA_DIR || path.join(packageRoot(), 'data'));
}

/** The figures folder: $LIGHTVIT_FIGURES_DIR, else <repo>/figures. */
export function figuresDir(): string {
  return path.resolve(process.env.LIGHTVIT_FIGURES_DIR || path.join(packageRoot(), 'figures'));
}
