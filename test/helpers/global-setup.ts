import { ensureDist } from './notebook-runner';

/**
 * Runs once in vitest's main process before any test file: rebuild dist/ (what notebooks import as 'lightvit-lab')
 * when src/ is newer. Doing it here, not in a worker's beforeAll, keeps a long synchronous build from stalling a
 * worker's RPC with the main process.
 */
export default function setup(): void {
  ensureDist({ log: (m: string) => console.log(`global setup: ${m}`) });
}
