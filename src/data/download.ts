import { DataError } from '../util/errors';

export interface DownloadSource {
  url: string;
  /** File name under the dataset folder. */
  file: string;
  bytes?: number;
  md5: string;
  /** Extract this archive into the dataset folder after verifying it. */
  extract?: boolean;
}

export interface DownloadOptions {
  dataDir?: string;
  onProgress?(done: number, total: number): void;
  /** Override the official sources (tests). */
  sources?: DownloadSource[];
}

export const DOWNLOADS: Record<string, DownloadSource[]> = {};

export async function downloadDataset(name: string, _opts: DownloadOptions = {}): Promise<string> {
  throw new DataError(`downloading ${name} is not implemented yet`);
}
