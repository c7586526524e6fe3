import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import * as tar from 'tar';
import { dataDir as defaultDataDir } from '../util/fsx';
import { DataError, UnknownNameError, fmtInt } from '../util/errors';

/**
 * Dataset downloads: stream over http(s) with node's own modules (following redirects) into `<file>.part`, resume a
 * partial file with a Range request, verify size and MD5, then extract archives into a temporary folder and rename
 * the result into place. Archives are kept under `<dataDir>/downloads/` once verified, so a failed extraction is
 * retried without downloading again. Sources, sizes and MD5s: DOWNLOADS below (cross-checked against torchvision and
 * other public loaders).
 */

export interface DownloadSource {
  url: string;
  /** File name: the archive's name under downloads/, or the file's name under the dataset folder. */
  file: string;
  /** Expected size in bytes, when known. */
  bytes?: number;
  md5: string;
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
}

export const DOWNLOADS: Record<'cifar10' | 'cifar100' | 'svhn' | 'flowers102', DownloadSource[]> = {
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

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

/** An interrupted transfer: worth resuming. */
class TransferInterrupted extends DataError {}

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
    req.setTimeout(timeoutMs, () => req.destroy(new TransferInterrupted(`no response from ${url} for ${timeoutMs / 1000} s`)));
    req.on('error', (e) =>
      reject(e instanceof DataError ? e : new TransferInterrupted(`download of ${url} failed: ${(e as Error).message}`)),
    );
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
      throw new TransferInterrupted(`server answered the resume of ${src.file} at byte ${have} with range '${res.headers['content-range']}'`);
    }
    append = true;
    total = m[2] === '*' ? 0 : Number(m[2]);
  } else if (code === 416 && have > 0) {
    // nothing left to send: the part is complete (or foreign; the checksum decides)
    res.resume();
    return;
  } else if (code === 200) {
    total = Number(res.headers['content-length'] ?? 0);
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
    res.setTimeout(timeoutMs, () => fail(new TransferInterrupted(`download of ${src.file} stalled for ${timeoutMs / 1000} s`)));
    res.on('data', (chunk: Buffer) => {
      received += chunk.length;
      done += chunk.length;
      if (!out.write(chunk)) {
        res.pause();
        out.once('drain', () => res.resume());
      }
      onProgress?.(done, total, src.file);
    });
    res.on('aborted', () => fail(new TransferInterrupted(`connection closed during ${src.file} at ${fmtInt(done)} bytes`)));
    res.on('error', (e) => fail(new TransferInterrupted(`download of ${src.file} failed: ${e.message}`)));
    res.on('end', () => {
      if (failed) return;
      if (expectBody >= 0 && received < expectBody) {
        fail(new TransferInterrupted(`connection closed during ${src.file} at ${fmtInt(done)} of ${fmtInt(have + expectBody)} bytes`));
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

/** Download one source to `dest` (verified), reusing a verified copy already there. */
async function fetchVerified(src: DownloadSource, dest: string, opts: DownloadOptions): Promise<void> {
  if (fs.existsSync(dest)) {
    const size = fileSize(dest);
    if ((src.bytes === undefined || size === src.bytes) && (await fileMd5(dest)) === src.md5) return;
    fs.rmSync(dest, { force: true });
  }
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const retries = opts.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      await fetchToPart(src, part, opts.timeoutMs ?? 60_000, opts.onProgress);
      break;
    } catch (e) {
      if (!(e instanceof TransferInterrupted) || attempt >= retries) {
        if (e instanceof TransferInterrupted) {
          throw new DataError(`${e.message}; gave up after ${attempt + 1} attempts (run again to resume from ${fmtInt(Math.max(0, fileSize(part)))} bytes)`);
        }
        throw e;
      }
    }
  }
  const size = fileSize(part);
  if (src.bytes !== undefined && size !== src.bytes) {
    fs.rmSync(part, { force: true });
    throw new DataError(`downloaded ${src.file} is ${fmtInt(size)} bytes; expected ${fmtInt(src.bytes)} (deleted; run again to re-download)`);
  }
  const md5 = await fileMd5(part);
  if (md5 !== src.md5) {
    fs.rmSync(part, { force: true });
    throw new DataError(`downloaded ${src.file} has MD5 ${md5}; expected ${src.md5} (deleted; run again to re-download)`);
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
    throw new DataError(`archive ${path.basename(archive)} has entries that would be written outside its folder: ${bad.slice(0, 5).join(', ')}; refusing to extract`);
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
      throw new DataError(`archive ${path.basename(archive)} could not be extracted (truncated or corrupt?): ${(e as Error).message}`);
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
 * reused, partial downloads resumed.
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
  const target = path.join(root, name);
  const sources = opts.sources ?? DOWNLOADS[name as keyof typeof DOWNLOADS];
  for (const src of sources) {
    if (src.extract) {
      const archive = path.join(root, 'downloads', src.file);
      await fetchVerified(src, archive, opts);
      await extractArchive(archive, target);
    } else {
      await fetchVerified(src, path.join(target, src.file), opts);
    }
  }
  return target;
}
