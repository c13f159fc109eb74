/**
 * `supplier-cloud status` on a receiver store: a gap notice that covers only part of a gap is
 * accounted for (what it declares lost, what stays unexplained), not ignored.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatStatus, statusReport } from '../../supplier-cloud/status';
import { openCloudStore, type CloudStore } from '../../supplier-cloud/store';

const dir = mkdtempSync(join(tmpdir(), 'supplier-status-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PLANT = 'zu3qt2odf2ebwxxn';

function batch(store: CloudStore, seq: number): void {
  store.accept({
    plant: PLANT,
    seq,
    kind: 'plain',
    machine: 'm',
    from: seq,
    to: seq,
    signingKid: 'k',
    points: 0,
    samples: 0,
    payload: '{}',
  });
}

function notice(store: CloudStore, seq: number, ranges: [number, number][]): void {
  batch(store, seq);
  const dropped = ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
  store.recordGapNotice({
    plant: PLANT,
    seq,
    issued: seq,
    ranges,
    droppedBatches: dropped,
    notRecorded: { sealed: 0, plain: 0 },
    totals: { dropped, notRecorded: 0 },
    sig: `sig-${seq}`,
  });
}

describe('supplier-cloud status', () => {
  it('splits a gap into what a notice declares lost and what stays unexplained', () => {
    const store = openCloudStore(join(dir, 'a.db'), { receiver: 'test' });
    try {
      store.registerPlants([{ pseudonym: PLANT, id: 'plant-a' }]);
      for (const seq of [1, 2, 3, 10, 11, 14]) batch(store, seq);
      // Missing: 4..9 and 12..13. The plant declares 4..5 and 8 lost (partly), and 12..13 (wholly).
      notice(store, 15, [
        [4, 5],
        [8, 8],
        [12, 13],
      ]);
      const report = statusReport(store, 'a.db');
      const p = report.plants[0]!;
      expect(p).toMatchObject({ missing: 8, declaredLost: 5 });
      expect(p.gaps).toEqual([
        {
          from: 4,
          to: 9,
          declaredLost: false,
          lost: [
            [4, 5],
            [8, 8],
          ],
        },
        { from: 12, to: 13, declaredLost: true, lost: [[12, 13]] },
      ]);
      expect(formatStatus(report)).toContain(
        'gaps      8 missing (5 declared lost by the plant, 3 unexplained): 4..9 (4..5, 8 declared lost by the plant; 6..7, 9 unexplained), 12..13 (declared lost by the plant)',
      );
    } finally {
      store.close();
    }
  });
});
