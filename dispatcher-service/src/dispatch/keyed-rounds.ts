/**
 * Runs `work` for a key (a city) one round at a time and coalesces the calls in between.
 * The first call starts a round. Calls made while it runs share a single next round that starts
 * when it ends: they may have changed what it must see (a vehicle freed after it read the free
 * ones), so they cannot join it, but one more round serves them all. A caller never waits longer
 * than the round in progress plus its own.
 */
export type KeyedRounds = (key: string, work: () => Promise<void>) => Promise<void>;

export function createKeyedRounds(): KeyedRounds {
  const running = new Map<string, Promise<void>>();
  const queued = new Map<string, Promise<void>>();

  function start(key: string, work: () => Promise<void>): Promise<void> {
    queued.delete(key);
    const round = work();
    running.set(key, round);
    const done = () => {
      if (running.get(key) === round) running.delete(key);
    };
    void round.then(done, done);
    return round;
  }

  return (key, work) => {
    const next = queued.get(key);
    if (next) return next;
    const current = running.get(key);
    if (!current) return start(key, work);
    const after = current.then(
      () => start(key, work),
      () => start(key, work),
    );
    queued.set(key, after);
    return after;
  };
}
