import { strict as assert } from 'node:assert';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { createKafka, createLogger } from '@delivery/common';
import { TEST_KAFKA_BROKERS } from '@delivery/common/testing';

interface RequestQueue {
  pending: unknown[];
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
}
const require = createRequire(import.meta.url);
const { prototype } = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueue };

describe('KafkaJS idle connections (common/src/kafkajs-idle-fix.ts)', () => {
  it('a connected client with nothing to send does not wake up every millisecond', async () => {
    const kafka = createKafka({
      clientId: 'idle-test',
      brokers: TEST_KAFKA_BROKERS,
      logger: createLogger({ service: 'test', level: 'silent' }),
    });
    const admin = kafka.admin();
    await admin.connect();
    const original = prototype.checkPendingRequests;
    const queues = new Set<RequestQueue>();
    prototype.checkPendingRequests = function (this: RequestQueue) {
      queues.add(this);
      original.call(this);
    };
    try {
      await admin.listTopics(); // a response: its queue checks its pending requests, as it should
      assert.ok(queues.size > 0, 'the response was followed by a check');
      // Unpatched, every check arms the next one whatever is pending, so a check is always armed
      // and runs every millisecond. Seen in the queue's state, not counted over a wait: with
      // nothing pending, nothing is armed to wake it.
      for (const queue of queues) {
        assert.equal(queue.pending.length, 0, 'nothing waits');
        assert.equal(queue.throttleCheckTimeoutId, null, 'no check armed on an idle request queue');
      }
    } finally {
      prototype.checkPendingRequests = original;
      await admin.disconnect();
    }
  });
});
