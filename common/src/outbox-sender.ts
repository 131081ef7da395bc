import type { Producer } from 'kafkajs';
import { topicName } from './events.js';
import type { Metrics } from './metrics.js';
import type { OutboxMessage } from './outbox.js';

/** Sends outbox messages in one produce request; resolves once the broker acknowledged them all. */
export type SendOutboxMessages = (messages: readonly OutboxMessage[]) => Promise<void>;

export function outboxSender(producer: Producer, metrics: Metrics, topicPrefix: string): SendOutboxMessages {
  return async function send(messages) {
    const byTopic = new Map<string, { key: string; value: string }[]>();
    for (const m of messages) {
      const topic = topicName(topicPrefix, m.type);
      const list = byTopic.get(topic) ?? [];
      list.push({ key: m.key, value: m.payload });
      byTopic.set(topic, list);
    }
    await producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
    });
    for (const [topic, list] of byTopic) metrics.eventsPublished.inc({ topic }, list.length);
  };
}
