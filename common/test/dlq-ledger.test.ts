import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { advanceLedger, decodeReplayed, encodeReplayed, isReplayed, waitingCount } from '@delivery/common';

describe('the replay ledger (what was replayed from a DLQ partition)', () => {
  for (const [offsets, text] of [
    [[], ''],
    [[7], '7'],
    [[17, 18, 19, 23], '17-19,23'],
    [[23, 17, 19, 18, 17], '17-19,23'],
    [[1, 3, 5, 6], '1,3,5-6'],
  ] as [number[], string][]) {
    it(`${JSON.stringify(offsets)} is kept as "${text}" and read back`, () => {
      assert.equal(encodeReplayed(offsets), text);
      assert.deepEqual(
        [...decodeReplayed(text)].sort((a, b) => a - b),
        [...new Set(offsets)].sort((a, b) => a - b),
      );
    });
  }

  it('metadata that is not a list of offsets reads as nothing replayed', () => {
    assert.deepEqual([...decodeReplayed(null)], []);
    assert.deepEqual([...decodeReplayed('garbage,x-1')], []);
  });

  it('the cursor moves to the first dead letter left waiting, and only replays above it stay listed', () => {
    const before = { cursor: 10, replayed: new Set([14]) };
    // Read 10..15: 10, 11, 13 replayed now, 12 and 15 left waiting (another ID), 14 replayed before.
    const after = advanceLedger(before, [10, 11, 13], [12, 15], 16);
    assert.equal(after.cursor, 12);
    assert.deepEqual(
      [...after.replayed].sort((a, b) => a - b),
      [13, 14],
    );
    assert.deepEqual(
      [10, 11, 12, 13, 14, 15].map((o) => isReplayed(after, o)),
      [true, true, false, true, true, false],
    );
  });

  it('with nothing left waiting the cursor passes everything read', () => {
    assert.deepEqual(advanceLedger(undefined, [3, 4, 5], [], 6), { cursor: 6, replayed: new Set() });
  });

  for (const [what, ends, record, waiting] of [
    ['no record: everything the partition holds', { low: 0, high: 5 }, undefined, 5],
    ['below the cursor: replayed', { low: 0, high: 5 }, { cursor: 3, replayed: new Set<number>() }, 2],
    [
      'replayed above the cursor do not count',
      { low: 0, high: 8 },
      { cursor: 3, replayed: new Set([4, 6]) },
      3,
    ],
    [
      'messages gone by retention do not count',
      { low: 6, high: 8 },
      { cursor: 3, replayed: new Set([4, 6]) },
      1,
    ],
    ['cursor at the end: none', { low: 2, high: 8 }, { cursor: 8, replayed: new Set<number>() }, 0],
  ] as const) {
    it(`waiting dead letters, ${what}: ${waiting}`, () => {
      assert.equal(waitingCount({ partition: 0, ...ends }, record), waiting);
    });
  }
});
