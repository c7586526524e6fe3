import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tar from 'tar';
import { dataDir as defaultDataDir } from '../util/fsx';
import { DataError, UnknownNameError, fmtInt } from '../util/errors';
import { locateFashionMnist } from './fashion-mnist';

/**
 * Dataset downloads: stream over http(s) with node's own modules (following redirects) into `<file>.part`, resume a
 * partial file with a Range request, verify size and MD5, then extract archives into a temporary folder and rename
 * the result into place. Archives are kept under `<dataDir>/downloads/` once verified, so a failed extraction is
 * retried without downloading again. Before a transfer starts, the size the server advertises is compared with the
 * official one; interrupted transfers are retried after exponentially growing, capped waits. A mirror (URL base or
 * local folder, `mirror` or $LIGHTVIT_MIRROR) replaces the official hosts; offline, official files copied into
 * `<dataDir>/downloads/` are verified and used. Sizes and MD5s are the ones the datasets' pages publish,
 * cross-checked against public loaders (torchvision's among them).
 */
export const MIRROR_ENV = 'LIGHTVIT_MIRROR';

export interface DownloadSource {
  url: string;
  /** File name: the archive's name under downloads/, or the file's name under the dataset folder. */
  file: string;
  /** Expected size in bytes, when known. */
  bytes?: number;
  md5: string;
  /**
   * MD5 of the gunzipped content, for gzipped files: a copy whose own MD5 differs but whose content matches is
   * accepted (Debian's `dataset-fashion-mnist` recompresses the official files without the name in the gzip header).
   */
  contentMd5?: string;
  /** A .tar.gz/.tgz archive to extract into the dataset folder. */
  extract?: boolean;
}

export interface DownloadOptions {
  dataDir?: string;
  /** Bytes of the current file received so far and its total (0 when the server does not say). */
  onProgress?(done: number, total: number, file: string): void;
  /** Replace the official sources (tests, mirrors). */
  sources?: DownloadSource[];
  /** Times to resume an interrupted transfer before giving up (default 3). */
  retries?: number;
  /** Idle time before a stalled connection is dropped (default 60 s). */
  timeoutMs?: number;
  /** Wait before the first retry; each further retry waits twice as long (default 2 s). */
  retryDelayMs?: number;
  /** Cap of the wait between retries (default 60 s). */
  retryDelayMaxMs?: number;
  /** Told before each wait between retries: attempt number (1-based), the wait, and what failed. */
  onRetry?(attempt: number, delayMs: number, reason: string): void;
  /**
   * Fetch from here instead of the official hosts: an http(s) URL base (`<mirror>/<file>` is fetched) or a local
   * folder holding the official files under their official names. Default $LIGHTVIT_MIRROR; empty means none.
   */
  mirror?: string;
}

/** The Fashion-MNIST files' official host (the Fashion-MNIST README's download links). */
const FASHION_MNIST_BASE = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com';

export const DOWNLOADS: Record<'cifar10' | 'cifar100' | 'svhn' | 'flowers102' | 'fashion-mnist', DownloadSource[]> = {
  cifar10: [
    {
      url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
      file: 'cifar-10-binary.tar.gz',
      bytes: 170_052_171,
      md5: 'c32a1d4ab5d03f1284b67883e8d87530',
      extract: true,
    },
  ],
  cifar100: [
    {
      url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
      file: 'cifar-100-binary.tar.gz',
      bytes: 168_513_733,
      md5: '03b5dce01913d631647c71ecec9e9cb8',
      extract: true,
    },
  ],
  svhn: [
    {
      url: 'http://ufldl.stanford.edu/housenumbers/train_32x32.mat',
      file: 'train_32x32.mat',
      bytes: 182_040_794,
      md5: 'e26dedcc434d2e4c54c9b2d4a06d8373',
    },
    {
      url: 'http://ufldl.stanford.edu/housenumbers/test_32x32.mat',
      file: 'test_32x32.mat',
      bytes: 64_275_384,
      md5: 'eb5a983be6a315427106f1b164d9cef3',
    },
  ],
  flowers102: [
    // the small label files first: the images' folder (jpg/) appearing last marks the dataset complete
    {
      url: 'https://www.robots.ox.ac.uk/~vgg/data/flowers/102/imagelabels.mat',
      file: 'imagelabels.mat',
      md5: 'e0620be6f572b9609742df49c70aed4d',
    },
    {
      url: 'https://www.robots.ox.ac.uk/~vgg/data/flowers/102/setid.mat',
      file: 'setid.mat',
      md5: 'a5357ecc9cb78c4bef273ce3793fc85c',
    },
    {
      url: 'https://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz',
      file: '102flowers.tgz',
      md5: '52808999861908f626f3c1f4e79d11fa',
      extract: true,
    },
  ],
  // the four files land in <dataDir>/fashion-mnist/, where the loader looks (src/data/fashion-mnist.ts)
  'fashion-mnist': [
    {
      url: `${FASHION_MNIST_BASE}/train-labels-idx1-ubyte.gz`,
      file: 'train-labels-idx1-ubyte.gz',
      bytes: 29_515,
      md5: '25c81989df183df01b3e8a0aad5dffbe',
      contentMd5: '9018921c3c673c538a1fc5bad174d6f9',
    },
    {
      url: `${FASHION_MNIST_BASE}/t10k-labels-idx1-ubyte.gz`,
      file: 't10k-labels-idx1-ubyte.gz',
      bytes: 5_148,
      md5: 'bb300cfdad3c16e7a12a480ee83cd310',
      contentMd5: '15d484375f8d13e6eb1aabb0c3f46965',
    },
    {
      url: `${FASHION_MNIST_BASE}/t10k-images-idx3-ubyte.gz`,
      file: 't10k-images-idx3-ubyte.gz',
      bytes: 4_422_102,
      md5: 'bef4ecab320f06d8554ea6380940ec79',
      contentMd5: '8181f5470baa50b63fa0f6fddb340f0a',
    },
    {
      url: `${FASHION_MNIST_BASE}/train-images-idx3-ubyte.gz`,
      file: 'train-images-idx3-ubyte.gz',
      bytes: 26_421_880,
      md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
      contentMd5: 'f4a8712d7a061bf5bd6d2ca38dc4d50a',
    },
  ],
};

export async function fileMd5(file: string): Promise<string> {
  const h = crypto.createHash('md5');
  await new Promise<void>((resolve, reject) => {
    fs.createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve());
  });
  return h.digest('hex');
}

/** MD5 of a gzipped file's content; null when it is not a complete gzip stream. */
export async function gunzippedMd5(file: string): Promise<string | null> {
  const h = crypto.createHash('md5');
  try {
    await new Promise<void>((resolve, reject) => {
      fs.createReadStream(file)
        .on('error', reject)
        .pipe(zlib.createGunzip())
        .on('data', (c: Buffer) => h.update(c))
        .on('error', reject)
        .on('end', () => resolve());
    });
  } catch {
    return null;
  }
  return h.digest('hex');
}

/** Whether `file` is the official file of `src`: its size and MD5, or (gzipped sources) its content's MD5. */
async function verify(src: DownloadSource, file: string): Promise<{ ok: boolean; md5: string; size: number }> {
  const size = fileSize(file);
  const md5 = await fileMd5(file);
  if (md5 === src.md5 && (src.bytes === undefined || size === src.bytes)) return { ok: true, md5, size };
  if (src.contentMd5 && (await gunzippedMd5(file)) === src.contentMd5) return { ok: true, md5, size };
  return { ok: false, md5, size };
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

/** An interrupted transfer: worth resuming. */
class TransferInterrupted extends DataError {}

/** No connection at all (no DNS, refused, unreachable): likely offline or behind a firewall; retried too. */
class HostUnreachable extends TransferInterrupted {}

const UNREACHABLE_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ETIMEDOUT',
]);

interface Opened {
  res: http.IncomingMessage;
  url: string;
}

function request(url: string, headers: Record<string, string>, timeoutMs: number, redirects = 10): Promise<Opened> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new DataError(`download URL '${url}' is not a valid http(s) URL`));
      return;
    }
    const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
    if (!mod) {
      reject(new DataError(`download URL '${url}' uses ${u.protocol}; expected http: or https:`));
      return;
    }
    const req = mod.get(u, { headers: { 'user-agent': 'lightvit-lab', ...headers } }, (res) => {
      const code = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(code) && res.headers.location) {
        res.resume();
        if (redirects <= 0) {
          reject(new DataError(`download of ${url}: too many redirects`));
          return;
        }
        const next = new URL(res.headers.location, u).toString();
        request(next, headers, timeoutMs, redirects - 1).then(resolve, reject);
        return;
      }
      resolve({ res, url });
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(new TransferInterrupted(`no response from ${url} for ${timeoutMs / 1000} s`)),
    );
    req.on('error', (e) => {
      if (e instanceof DataError) reject(e);
      else if (UNREACHABLE_CODES.has((e as NodeJS.ErrnoException).code ?? '')) {
        reject(new HostUnreachable(`cannot reach ${u.host} for ${url}: ${(e as Error).message}`));
      } else reject(new TransferInterrupted(`download of ${url} failed: ${(e as Error).message}`));
    });
  });
}

/**
 * Fetch `url` into `part`, continuing from its current size with a Range request; restarts from zero when the
 * server ignores the Range (status 200). Resolves when the body has fully arrived.
 */
async function fetchToPart(
  src: DownloadSource,
  part: string,
  timeoutMs: number,
  onProgress?: DownloadOptions['onProgress'],
): Promise<void> {
  let have = Math.max(0, fileSize(part));
  if (src.bytes !== undefined && have > src.bytes) {
    fs.rmSync(part, { force: true });
    have = 0;
  }
  const headers: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
  const { res, url } = await request(src.url, headers, timeoutMs);
  const code = res.statusCode ?? 0;
  let append = false;
  let total = 0;
  if (code === 206 && have > 0) {
    const m = /bytes (\d+)-\d+\/(\d+|\*)/.exec(String(res.headers['content-range'] ?? ''));
    if (!m || Number(m[1]) !== have) {
      res.resume();
      fs.rmSync(part, { force: true });
      throw new TransferInterrupted(
        `server answered the resume of ${src.file} at byte ${have} with range '${res.headers['content-range']}'`,
      );
    }
    append = true;
    total = m[2] === '*' ? 0 : Number(m[2]);
    if (total && src.bytes !== undefined && total !== src.bytes) {
      res.destroy();
      throw new DataError(
        `${url} advertises ${fmtInt(total)} bytes for ${src.file}; expected ${fmtInt(src.bytes)} (not the official ` +
          `file: check the URL or mirror); stopped before downloading it`,
      );
    }
  } else if (code === 416 && have > 0) {
    // nothing left to send: the part is complete (or foreign; the checksum decides)
    res.resume();
    return;
  } else if (code === 200) {
    total = Number(res.headers['content-length'] ?? 0);
    if (total && src.bytes !== undefined && total !== src.bytes) {
      res.destroy();
      throw new DataError(
        `${url} advertises ${fmtInt(total)} bytes for ${src.file}; expected ${fmtInt(src.bytes)} (not the official ` +
          `file: check the URL or mirror); stopped before downloading it`,
      );
    }
    have = 0;
  } else {
    res.resume();
    throw new DataError(`download of ${url} failed: HTTP ${code} ${res.statusMessage ?? ''}`.trim());
  }
  if (!total && src.bytes) total = src.bytes;
  const expectBody = Number(res.headers['content-length'] ?? -1);
  const out = fs.createWriteStream(part, { flags: append ? 'a' : 'w' });
  let done = have;
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      res.destroy();
      out.end(() => reject(e));
    };
    res.setTimeout(timeoutMs, () =>
      fail(new TransferInterrupted(`download of ${src.file} stalled for ${timeoutMs / 1000} s`)),
    );
    res.on('data', (chunk: Buffer) => {
      received += chunk.length;
      done += chunk.length;
      if (!out.write(chunk)) {
        res.pause();
        out.once('drain', () => res.resume());
      }
      onProgress?.(done, total, src.file);
    });
    res.on('aborted', () =>
      fail(new TransferInterrupted(`connection closed during ${src.file} at ${fmtInt(done)} bytes`)),
    );
    res.on('error', (e) => fail(new TransferInterrupted(`download of ${src.file} failed: ${e.message}`)));
    res.on('end', () => {
      if (failed) return;
      if (expectBody >= 0 && received < expectBody) {
        fail(
          new TransferInterrupted(
            `connection closed during ${src.file} at ${fmtInt(done)} of ${fmtInt(have + expectBody)} bytes`,
          ),
        );
        return;
      }
      out.end(() => resolve());
    });
    res.on('close', () => {
      if (!res.complete) fail(new TransferInterrupted(`connection closed during ${src.file} at ${fmtInt(done)} bytes`));
    });
    out.on('error', (e) => fail(new DataError(`cannot write ${part}: ${e.message}`)));
  });
}

/** A mirror: a URL base to fetch `<base>/<file>` from, or a folder holding the files. */
export interface Mirror {
  kind: 'url' | 'dir';
  base: string;
}

/** The mirror in force: the option, else $LIGHTVIT_MIRROR; '' or unset means the official hosts. */
export function resolveMirror(opts: Pick<DownloadOptions, 'mirror'> = {}): Mirror | null {
  const raw = (opts.mirror ?? process.env[MIRROR_ENV] ?? '').trim();
  if (!raw) return null;
  const from = opts.mirror !== undefined ? 'mirror' : MIRROR_ENV;
  if (/^https?:\/\//i.test(raw)) return { kind: 'url', base: raw.replace(/\/+$/, '') };
  if (/^file:\/\//i.test(raw)) return { kind: 'dir', base: new URL(raw).pathname };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    throw new DataError(
      `${from} '${raw}' is neither an http(s) URL nor a folder; expected http://…, https://… or a path`,
    );
  }
  const dir = path.resolve(raw);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new DataError(`${from} folder ${dir} does not exist; expected a folder holding the official files, or a URL`);
  }
  return { kind: 'dir', base: dir };
}

/** Copy `from` to `dest` through a temporary sibling, after checking it is the official file. */
async function adoptLocal(src: DownloadSource, from: string, dest: string, what: string): Promise<void> {
  const v = await verify(src, from);
  if (!v.ok) {
    const size = src.bytes !== undefined && v.size !== src.bytes ? `${fmtInt(v.size)} bytes, ` : '';
    throw new DataError(
      `${what} ${from} is not the official ${src.file}: ${size}MD5 ${v.md5}; expected ` +
        `${src.bytes !== undefined ? `${fmtInt(src.bytes)} bytes, ` : ''}MD5 ${src.md5} (replace or delete it)`,
    );
  }
  if (path.resolve(from) === path.resolve(dest)) return;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.copy-${process.pid}`;
  try {
    fs.copyFileSync(from, tmp);
    fs.renameSync(tmp, dest);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Wait before retry number `attempt` (0-based): base · 2^attempt, capped. */
export function retryDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** attempt);
}

/**
 * Download one source to `dest` (verified), reusing a verified copy already there, or one copied into
 * `<root>/downloads/` by hand; from the mirror when one is set.
 */
async function fetchVerified(
  src: DownloadSource,
  dest: string,
  root: string,
  opts: DownloadOptions,
  all: DownloadSource[] = [src],
): Promise<void> {
  if (fs.existsSync(dest)) {
    if ((await verify(src, dest)).ok) return;
    fs.rmSync(dest, { force: true });
  }
  const manual = path.join(root, 'downloads', src.file);
  if (manual !== dest && fs.existsSync(manual)) {
    await adoptLocal(src, manual, dest, 'the copy at');
    return;
  }
  const mirror = resolveMirror(opts);
  if (mirror?.kind === 'dir') {
    const from = path.join(mirror.base, src.file);
    if (!fs.existsSync(from)) {
      throw new DataError(
        `mirror folder ${mirror.base} has no ${src.file}; expected the official file under that name`,
      );
    }
    await adoptLocal(src, from, dest, 'mirror file');
    return;
  }
  const source = mirror ? { ...src, url: `${mirror.base}/${src.file}` } : src;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const retries = opts.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      await fetchToPart(source, part, opts.timeoutMs ?? 60_000, opts.onProgress);
      break;
    } catch (e) {
      if (!(e instanceof TransferInterrupted)) throw e;
      if (attempt >= retries) {
        const tries = `gave up after ${attempt + 1} attempt${attempt ? 's' : ''}`;
        if (e instanceof HostUnreachable) {
          throw new DataError(
            `${e.message}; ${tries}. Offline or behind a firewall? Copy the official files ` +
              `(${all.map((x) => x.file).join(', ')}; from ${all.map((x) => x.url).join(', ')}) into ` +
              `${path.join(root, 'downloads')}${path.sep} and run again (they are verified, then used), or point ` +
              `--mirror / ${MIRROR_ENV} at a reachable URL or a folder holding them`,
          );
        }
        const have = fmtInt(Math.max(0, fileSize(part)));
        throw new DataError(`${e.message}; ${tries} (run again to resume from ${have} bytes)`);
      }
      const delay = retryDelay(attempt, opts.retryDelayMs ?? 2_000, opts.retryDelayMaxMs ?? 60_000);
      opts.onRetry?.(attempt + 1, delay, e.message);
      await sleep(delay);
    }
  }
  const v = await verify(src, part);
  if (src.bytes !== undefined && v.size !== src.bytes && !v.ok) {
    fs.rmSync(part, { force: true });
    throw new DataError(
      `downloaded ${src.file} is ${fmtInt(v.size)} bytes; expected ${fmtInt(src.bytes)} (deleted; run again to ` +
        `re-download)`,
    );
  }
  if (!v.ok) {
    fs.rmSync(part, { force: true });
    throw new DataError(
      `downloaded ${src.file} has MD5 ${v.md5}; expected ${src.md5} (deleted; run again to re-download)`,
    );
  }
  fs.renameSync(part, dest);
}

/**
 * List a tar.gz and refuse any entry that would land outside the target folder: absolute paths, `..` segments,
 * and links whose target resolves outside (or hard links, which tar resolves from the archive root).
 */
async function checkArchive(archive: string): Promise<void> {
  const bad: string[] = [];
  const outside = (p: string) => {
    const norm = p.replace(/\\/g, '/');
    return norm.startsWith('/') || /^[A-Za-z]:/.test(norm) || norm.split('/').includes('..');
  };
  await tar.t({
    file: archive,
    strict: true,
    onReadEntry: (entry) => {
      const p = entry.path;
      if (outside(p)) bad.push(`${p} (outside the target folder)`);
      else if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
        const link = entry.linkpath ?? '';
        const target = entry.type === 'SymbolicLink' ? path.posix.join(path.posix.dirname(p), link) : link;
        if (link.startsWith('/') || path.posix.normalize(target).split('/')[0] === '..') {
          bad.push(`${p} -> ${link} (link pointing outside the target folder)`);
        }
      }
    },
  });
  if (bad.length) {
    throw new DataError(
      `archive ${path.basename(archive)} has entries that would be written outside its folder: ` +
        `${bad.slice(0, 5).join(', ')}; refusing to extract`,
    );
  }
}

/**
 * Extract `archive` into `targetDir`: check every entry, unpack into a temporary sibling folder, then rename each
 * top-level entry into place. On any failure the temporary folder is removed and the target is untouched.
 */
export async function extractArchive(archive: string, targetDir: string): Promise<string[]> {
  const parent = path.dirname(targetDir);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(targetDir)}.extract-`));
  try {
    try {
      await checkArchive(archive);
      await tar.x({ file: archive, cwd: tmp, strict: true, preservePaths: false, preserveOwner: false });
    } catch (e) {
      if (e instanceof DataError) throw e;
      throw new DataError(
        `archive ${path.basename(archive)} could not be extracted (truncated or corrupt?): ${(e as Error).message}`,
      );
    }
    const entries = fs.readdirSync(tmp);
    if (!entries.length) throw new DataError(`archive ${path.basename(archive)} is empty`);
    fs.mkdirSync(targetDir, { recursive: true });
    for (const name of entries) {
      const dest = path.join(targetDir, name);
      fs.rmSync(dest, { recursive: true, force: true });
      fs.renameSync(path.join(tmp, name), dest);
    }
    return entries;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Download (and extract) a dataset into `<dataDir>/<name>`; returns that folder. Safe to re-run: verified files are
 * reused, partial downloads resumed. Fashion-MNIST already found through $LIGHTVIT_FASHION_MNIST_DIR or the Debian
 * package's path is not downloaded again: its folder is returned.
 */
export async function downloadDataset(name: string, opts: DownloadOptions = {}): Promise<string> {
  const known = Object.keys(DOWNLOADS);
  if (!known.includes(name) && !opts.sources) {
    if (name === 'synth10' || name === 'synth100') {
      throw new DataError(`${name} is generated locally on first use; there is nothing to download`);
    }
    throw new UnknownNameError('downloadable dataset', name, known);
  }
  const root = opts.dataDir ?? defaultDataDir();
  if (name === 'fashion-mnist' && !opts.sources) {
    const at = locateFashionMnist(root);
    if (at.present && at.source !== 'data') return at.dir;
  }
  const target = path.join(root, name);
  const sources = opts.sources ?? DOWNLOADS[name as keyof typeof DOWNLOADS];
  resolveMirror(opts); // a bad mirror fails before anything is fetched
  for (const src of sources) {
    if (src.extract) {
      const archive = path.join(root, 'downloads', src.file);
      await fetchVerified(src, archive, root, opts, sources);
      await extractArchive(archive, target);
    } else {
      await fetchVerified(src, path.join(target, src.file), root, opts, sources);
    }
  }
  return target;
}
