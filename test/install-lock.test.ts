import { describe, it, expect } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The committed lock must be one that `npm ci` accepts on npm 10 and npm 11 and that `npm install` does not rewrite:
 * in sync with package.json, complete (every optional platform package of every OS, which npm 11 checks), and with
 * root versions inside the peer ranges that ask for them (npm 10 otherwise wants a second copy the lock lacks).
 */
const root = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<
  string,
  Record<string, string>
>;
interface LockEntry {
  version?: string;
  link?: boolean;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
};

/** Where node would resolve `name` from the package at `from` (a lock key): nearest node_modules upwards. */
function resolveIn(from: string, name: string): LockEntry | undefined {
  let dir = from;
  for (;;) {
    const hit = lock.packages[`${dir ? `${dir}/` : ''}node_modules/${name}`];
    if (hit) return hit;
    if (!dir) return undefined;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i >= 0 ? dir.slice(0, i) : '';
  }
}

/** Enough of semver ranges for peer ranges: `||` of space-separated comparators (^, ~, >=, <, exact). */
function satisfies(version: string, range: string): boolean {
  const v = version.split('-')[0].split('.').map(Number);
  const cmp = (a: number[], b: number[]) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  const parse = (s: string) => {
    const p = s.split('.').map((x) => (x === 'x' || x === '*' ? NaN : Number(x)));
    return [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0].map((x) => (Number.isNaN(x) ? 0 : x));
  };
  const one = (c: string): boolean => {
    if (c === '*' || c === '') return true;
    const m = /^(\^|~|>=|<=|>|<|=)?v?(.+)$/.exec(c);
    if (!m) throw new Error(`range comparator '${c}' not understood`);
    const [op, rest] = [m[1] ?? '=', m[2]];
    const b = parse(rest);
    if (op === '^') return cmp(v, b) >= 0 && (b[0] > 0 ? v[0] === b[0] : v[0] === 0 && v[1] === b[1]);
    if (op === '~') return cmp(v, b) >= 0 && v[0] === b[0] && v[1] === b[1];
    if (op === '>=') return cmp(v, b) >= 0;
    if (op === '>') return cmp(v, b) > 0;
    if (op === '<=') return cmp(v, b) <= 0;
    if (op === '<') return cmp(v, b) < 0;
    return cmp(v, b) === 0;
  };
  return range.split('||').some((alt) => alt.trim().split(/\s+/).every(one));
}

describe('package-lock.json', () => {
  it('is a v3 lock in sync with package.json (what npm ci checks first)', () => {
    expect(lock.lockfileVersion).toBe(3);
    const top = lock.packages[''];
    for (const field of ['dependencies', 'devDependencies', 'peerDependencies'] as const) {
      expect(top[field] ?? {}, field).toEqual(pkg[field] ?? {});
    }
  });

  it('holds every optional platform package (rollup for macOS, Windows, Linux, ...), so npm 11 ci accepts it', () => {
    const missing: string[] = [];
    for (const [key, entry] of Object.entries(lock.packages)) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) {
        if (!resolveIn(key, name)) missing.push(`${name} (wanted by ${key || 'the root'})`);
      }
    }
    expect(missing).toEqual([]);
    const rollups = Object.keys(lock.packages).filter((k) => /node_modules\/@rollup\/rollup-/.test(k));
    for (const os of ['darwin', 'win32', 'linux'])
      expect(
        rollups.some((k) => k.includes(`-${os}-`)),
        os,
      ).toBe(true);
  });

  it('resolves every required peer inside its range (no ERESOLVE, nothing npm 10 finds missing)', () => {
    const bad: string[] = [];
    for (const [key, entry] of Object.entries(lock.packages)) {
      for (const [name, range] of Object.entries(entry.peerDependencies ?? {})) {
        const dep = resolveIn(key, name);
        if (!dep) continue; // an absent optional peer is fine; npm adds required ones, which the lock then has
        if (dep.link || !dep.version) continue;
        if (!satisfies(dep.version, range)) bad.push(`${key} wants ${name}@'${range}', the lock has ${dep.version}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('the range check itself rejects what npm rejects', () => {
    expect(satisfies('20.17.10', '^20.19.0 || >=22.12.0')).toBe(false);
    expect(satisfies('20.19.43', '^20.19.0 || >=22.12.0')).toBe(true);
    expect(satisfies('23.0.0', '^20.19.0 || >=22.12.0')).toBe(true);
    expect(satisfies('4.22.0', '4.22.0')).toBe(true);
    expect(satisfies('1.2.3', '>=1.0.0 <1.2.0')).toBe(false);
  });
});
