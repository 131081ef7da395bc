/**
 * Where a service's garbage comes from: loaded into each service with
 *   SERVICE_NODE_FLAGS="--import ./bench/experiments/alloc-sampling.mjs" bash scripts/services.sh start
 * it samples every allocation (one per 16 kB, objects the GC has already collected included) from
 * start-up, and writes the profile to .run/alloc-<pid>.json on SIGUSR2. Summarize it with
 * `npx tsx bench/experiments/alloc-summary.ts .run/alloc-<pid>.json`. Plain JavaScript: it is
 * loaded before tsx.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const session = new Session();
session.connect();
session.post('HeapProfiler.enable');
session.post('HeapProfiler.startSampling', {
  samplingInterval: 16_384,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
process.on('SIGUSR2', () => {
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (!err) writeFileSync(`.run/alloc-${process.pid}.json`, JSON.stringify(result.profile));
  });
});
