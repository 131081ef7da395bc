import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coalesce } from '@delivery/common';

/** A write whose batches we can see and hold open. */
function recorder(fail: (items: number[]) => boolean = () => false) {
  const batches: number[][] = [];
  let release: () => void = () => undefined;
  let gate = Promise.resolve();
  return {
    batches,
    hold() {
      gate = new Promise((resolve) => (release = resolve));
    },
    open: () => release(),
    async write(items: number[]): Promise<string[]> {
      batches.push(items);
      await gate;
      if (fail(items)) throw new Error(`refused ${items.join(',')}`);
      return items.map((i) => `done ${i}`);
    },
  };
}

describe('coalesce (group commit)', () => {
  it('writes a lone call at once, and calls arriving meanwhile together in the next batch', async () => {
    const r = recorder();
    const write = coalesce((items: number[]) => r.write(items), { concurrency: 1 });
    r.hold();
    const first = write(1);
    assert.deepEqual(r.batches, [[1]], 'nothing waits for company');
    const rest = [2, 3, 4].map((i) => write(i));
    r.open();
    assert.deepEqual(await Promise.all([first, ...rest]), ['done 1', 'done 2', 'done 3', 'done 4']);
    assert.deepEqual(r.batches, [[1], [2, 3, 4]]);
  });

  it('respects maxBatch', async () => {
    const r = recorder();
    const write = coalesce((items: number[]) => r.write(items), { concurrency: 1, maxBatch: 2 });
    r.hold();
    const all = [1, 2, 3, 4, 5].map((i) => write(i));
    r.open();
    await Promise.all(all);
    assert.deepEqual(r.batches, [[1], [2, 3], [4, 5]]);
  });

  it('a failing batch is written again item by item, so only the bad item fails', async () => {
    const r = recorder((items) => items.includes(3));
    const write = coalesce((items: number[]) => r.write(items), { concurrency: 1 });
    r.hold();
    const first = write(1);
    const rest = [2, 3, 4].map((i) => write(i));
    r.open();
    const results = await Promise.allSettled([first, ...rest]);
    assert.deepEqual(
      results.map((x) => (x.status === 'fulfilled' ? x.value : (x.reason as Error).message)),
      ['done 1', 'done 2', 'refused 3', 'done 4'],
    );
    assert.deepEqual(r.batches, [[1], [2, 3, 4], [2], [3], [4]]);
  });
  it('a failure retryAlone refuses is given to every caller of the batch at once, with no second try', async () => {
    const r = recorder(() => true);
    const write = coalesce((items: number[]) => r.write(items), {
      concurrency: 1,
      retryAlone: (err) => !(err as Error).message.startsWith('refused'),
    });
    r.hold();
    const first = write(1);
    const rest = [2, 3].map((i) => write(i));
    r.open();
    const results = await Promise.allSettled([first, ...rest]);
    assert.deepEqual(
      results.map((x) => (x.status === 'rejected' ? (x.reason as Error).message : 'ok')),
      ['refused 1', 'refused 2,3', 'refused 2,3'],
    );
    assert.deepEqual(r.batches, [[1], [2, 3]]);
  });
});
