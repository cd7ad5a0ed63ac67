import type { PubSubMessage } from "../../functions/core/message";

export interface Delivery {
  readonly messageId: string;
  readonly attempts: number;
  readonly outcome: "acked" | "dead_lettered";
}

/**
 * Pub/Sub push delivery as our subscription configures it, minus the backoff delays: a non-2xx
 * answer or no answer within the ack deadline means redelivery, and after maxDeliveryAttempts the
 * message moves to the dead-letter topic.
 */
export async function pushWithRetries(
  endpoint: string,
  messages: readonly PubSubMessage[],
  options: { maxDeliveryAttempts: number; ackDeadlineMs: number; concurrency: number },
): Promise<Delivery[]> {
  const deliveries: Delivery[] = [];
  const queue = [...messages];
  async function worker(): Promise<void> {
    for (let message = queue.shift(); message; message = queue.shift()) {
      let attempts = 0;
      let acked = false;
      while (!acked && attempts < options.maxDeliveryAttempts) {
        attempts++;
        acked = await pushOnce(endpoint, message, attempts, options.ackDeadlineMs);
      }
      deliveries.push({ messageId: String(message.messageId), attempts, outcome: acked ? "acked" : "dead_lettered" });
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return deliveries;
}

async function pushOnce(endpoint: string, message: PubSubMessage, deliveryAttempt: number, ackDeadlineMs: number): Promise<boolean> {
  try {
    const response = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message, subscription: "projects/demo-project/subscriptions/pixel-push", deliveryAttempt }),
      signal: AbortSignal.timeout(ackDeadlineMs),
    });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}
