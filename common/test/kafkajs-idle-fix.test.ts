import { strict as assert } from 'node:assert';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { createKafka, createLogger } from '@delivery/common';
import { TEST_KAFKA_BROKERS } from '@delivery/common/testing';

interface RequestQueue {
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
    let checks = 0;
    prototype.checkPendingRequests = function (this: RequestQueue) {
      checks += 1;
      original.call(this);
    };
    try {
      await admin.listTopics(); // a response: the queue checks once, as it should
      const before = checks;
      await new Promise((resolve) => setTimeout(resolve, 500));
      // Unpatched, the queue re-checks itself every millisecond: hundreds of calls in 500 ms.
      assert.ok(checks - before < 10, `${checks - before} checks of an idle request queue in 500 ms`);
    } finally {
      prototype.checkPendingRequests = original;
      await admin.disconnect();
    }
  });
});
