import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createKeyedRounds } from '../src/dispatch/keyed-rounds.js';

/** A round that runs until the test lets it finish. */
function gate() {
  let open!: () => void;
  const done = new Promise<void>((resolve) => (open = resolve));
  return { done, open };
}

describe('serving rounds per city', () => {
  it('calls made while a round runs share one next round; a caller waits for no round after its own', async () => {
    const rounds = createKeyedRounds();
    const gates = [gate(), gate(), gate()];
    let started = 0;
    const work = () => gates[started++]!.done;
    const settled: string[] = [];
    const track = (name: string, p: Promise<void>) => p.then(() => settled.push(name));

    const first = track('first', rounds('kandy', work));
    const second = track('second', rounds('kandy', work));
    const third = track('third', rounds('kandy', work));
    assert.equal(started, 1, 'one round at a time');

    gates[0]!.open();
    await first;
    await new Promise((r) => setImmediate(r));
    assert.equal(started, 2, 'the two calls made meanwhile share one next round');
    const fourth = track('fourth', rounds('kandy', work));

    gates[1]!.open();
    await Promise.all([second, third]);
    assert.deepEqual(settled, ['first', 'second', 'third'], 'second and third did not wait for the fourth');
    gates[2]!.open();
    await fourth;
    assert.equal(started, 3);
  });

  it('cities do not wait for each other, and a failed round fails only its callers', async () => {
    const rounds = createKeyedRounds();
    const kandy = gate();
    const waiting = rounds('kandy', () => kandy.done);
    await rounds('galle', async () => undefined);
    await assert.rejects(
      rounds('galle', () => Promise.reject(new Error('db down'))),
      /db down/,
    );
    await rounds('galle', async () => undefined);
    kandy.open();
    await waiting;
  });
});
