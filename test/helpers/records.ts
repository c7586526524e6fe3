import type { ResultRecord } from '../../src/report/types';
import { makeRecordKey } from '../../src/report/store';

/** A hand-made ResultRecord for report tests (only what figures and tables read is meaningful). */
export function fakeRecord(
  p: Partial<ResultRecord> & { variant: string; seed?: number; metrics: Record<string, number> },
): ResultRecord {
  const base = {
    experiment: 'kit.test',
    paper: 'kit',
    scale: 'smoke' as const,
    dataset: 'synth10',
    synthetic: true,
    model: 'vit-tiny-test',
    config: {},
    seed: 0,
    backend: 'cpu',
    versions: {},
    wallTimeS: 1,
    timestamp: '2024-01-01T00:00:00.000Z',
    ...p,
  };
  return { ...base, key: p.key ?? makeRecordKey(base) } as ResultRecord;
}
