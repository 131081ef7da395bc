import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dlqTopic, onEvents, topicName, type Envelope, type EventHandler } from '@delivery/common';
import { readTopic, waitFor } from '@delivery/common/testing';
import {
  assignments,
  buildConfirmed,
  consumedWith,
  dispatcherWithStub,
  newCity,
  publishConfirmed,
  registerVehicle,
  vehicleNo,
  waitingOrderIds,
} from './support.js';

const FAILURE = "Data too long for column 'order_number' at row 1";

/** The dispatcher's own order.confirmed handler, except that a batch holding `orderId` always fails. */
function failingFor(own: EventHandler[], orderId: () => number | undefined): EventHandler[] {
  const confirmed = own.find((h) => h.type === 'order.confirmed')!;
  return [
    onEvents('order.confirmed', async (events: Envelope<'order.confirmed'>[]) => {
      if (events.some((e) => e.data.orderId === orderId())) throw new Error(FAILURE);
      await confirmed.handleBatch!(events);
    }),
    ...own.filter((h) => h !== confirmed),
  ];
}

describe('one order.confirmed whose handling fails the same way every time', () => {
  let failing: number | undefined;
  const env = dispatcherWithStub({ handlers: (own) => failingFor(own, () => failing) });

  it('among 50 orders of 10 cities, the other 49 get vehicles and that one goes to the DLQ with its error, within seconds', async () => {
    const cities = Array.from({ length: 10 }, () => newCity());
    for (const city of cities)
      for (let i = 0; i < 5; i++)
        assert.equal((await registerVehicle(env.d.url, vehicleNo(), city)).status, 201);
    const orders = cities.flatMap((city) => Array.from({ length: 5 }, () => buildConfirmed({ city })));
    const bad = orders[23]!;
    failing = bad.data.orderId;
    const healthy = orders.filter((o) => o !== bad).map((o) => o.data.orderId);
    const topic = topicName(env.d.rt.config.KAFKA_TOPIC_PREFIX, 'order.confirmed');
    const dlq = await readTopic(env.d.rt.kafka, env.d.rt.config.KAFKA_TOPIC_PREFIX, dlqTopic(topic));
    try {
      await publishConfirmed(env.d.rt, ...orders);

      const served = async () =>
        (await assignments(env.d.rt)).filter((a) => healthy.includes(a.order_id)).length === 49;
      await waitFor(async () => (await served()) && dlq.seen.length === 1, {
        timeoutMs: 15_000,
        what: '49 orders with a vehicle and one message in the DLQ',
      });

      const [dead] = dlq.seen;
      assert.equal(dead!.key, String(bad.data.orderId));
      assert.equal((JSON.parse(dead!.value) as Envelope<'order.confirmed'>).eventId, bad.eventId);
      assert.equal(dead!.headers['x-dlq-reason'], 'handler_failed');
      assert.match(dead!.headers['x-dlq-error'] ?? '', /Data too long for column 'order_number'/);
      assert.match(
        dead!.headers['x-dlq-source'] ?? '',
        new RegExp(`^${topic.replaceAll('.', '\\.')}/\\d+/\\d+$`),
      );
      assert.equal((await assignments(env.d.rt)).filter((a) => a.order_id === bad.data.orderId).length, 0);
      assert.ok(!(await waitingOrderIds(env.d.rt)).includes(bad.data.orderId), 'not queued either');
      assert.equal(await consumedWith(env.d.rt, 'dlq'), 1);
      const dispatched = await env.d.rt
        .db('outbox')
        .where({ topic: 'order.dispatched' })
        .whereIn(
          'message_key',
          healthy.map((id) => String(id)),
        )
        .count({ n: '*' });
      assert.equal(Number(dispatched[0]?.n), 49, 'an order.dispatched for each of the 49');
    } finally {
      await dlq.stop();
    }
  });
});
