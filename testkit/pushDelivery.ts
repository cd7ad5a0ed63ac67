import { cloudDelivery, decide } from "../core/delivery";
import type { PubSubMessage } from "../core/message";

export interface Delivery {
  readonly messageId: string;
  readonly attempts: number;
  readonly outcome: "acked" | "dead_lettered";
}

/**
 * Pub/Sub push delivery as our subscription configures it, minus the backoff delays: a 2xx answer
 * acks; a non-2xx answer or none within the ack deadline counts as a failed delivery, and the
 * cloud delivery policy decides between redelivery and the dead-letter topic.
 */
export async function pushWithRetries(
  endpoint: string,
  messages: readonly PubSubMessage[],
  options: { maxDeliveryAttempts: number; ackDeadlineMs: number; concurrency: number },
): Promise<Delivery[]> {
  const deliveries: Delivery[] = [];
  const policy = cloudDelivery(options.maxDeliveryAttempts);
  const queue = [...messages];
  async function worker(): Promise<void> {
    for (let message = queue.shift(); message; message = queue.shift()) {
      for (let attempts = 1; ; attempts++) {
        const acked = await pushOnce(endpoint, message, attempts, options.ackDeadlineMs);
        // Pub/Sub sees only the answer: any failure counts against the subscription's budget.
        const decision = acked ? "ack" : decide("failed", attempts, policy);
        if (decision === "retry") continue;
        deliveries.push({ messageId: String(message.messageId), attempts, outcome: decision === "ack" ? "acked" : "dead_lettered" });
        break;
      }
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
