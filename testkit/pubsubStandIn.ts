import type { IncomingMessage, ServerResponse } from "node:http";
import { LoopbackStandIn } from "./loopbackStandIn";

export interface StoredMessage {
  readonly messageId: string;
  readonly data?: string;
  readonly attributes?: Record<string, string>;
}

/**
 * A loopback server that answers like the Pub/Sub REST API (v1) for one subscription and one topic:
 * pull, acknowledge, modifyAckDeadline and publish. A pulled message stays leased, and invisible,
 * until it is acknowledged or its deadline is set to 0; leases never expire on their own, so a
 * test does not depend on time.
 */
export class PubSubStandIn extends LoopbackStandIn {
  /** Messages on the subscription, by messageId. */
  readonly waiting = new Map<string, StoredMessage>();
  /** What was published to the topic, in order. */
  readonly published: StoredMessage[] = [];
  readonly calls: string[] = [];
  /** The next publish calls answer with these statuses (then 200). */
  failPublishes: number[] = [];
  private readonly leases = new Map<string, string>();
  private nextAckId = 1;
  private nextMessageId = 1;

  constructor(
    readonly subscription: string,
    readonly topic: string,
  ) {
    super();
  }



  add(message: Omit<StoredMessage, "messageId">): string {
    const messageId = String(this.nextMessageId++);
    this.waiting.set(messageId, { ...message, messageId });
    return messageId;
  }

  protected async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>) : {};
    const path = decodeURIComponent((request.url ?? "").split("?")[0]);
    this.calls.push(path);
    const send = (status: number, answer: unknown) => response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(answer));
    if (request.method !== "POST") return void send(404, { error: { message: `stand-in has no ${request.method} ${path}` } });
    switch (path) {
      case `/v1/${this.subscription}:pull`:
        return void send(200, this.pull(Number(body.maxMessages)));
      case `/v1/${this.subscription}:acknowledge`:
        for (const ackId of body.ackIds as string[]) {
          const messageId = this.leases.get(ackId);
          this.leases.delete(ackId);
          if (messageId) this.waiting.delete(messageId);
        }
        return void send(200, {});
      case `/v1/${this.subscription}:modifyAckDeadline`:
        if (body.ackDeadlineSeconds === 0) for (const ackId of body.ackIds as string[]) this.leases.delete(ackId);
        return void send(200, {});
      case `/v1/${this.topic}:publish`: {
        const status = this.failPublishes.shift();
        if (status) return void send(status, { error: { code: status, message: "publish failed" } });
        const messages = body.messages as Omit<StoredMessage, "messageId">[];
        const messageIds = messages.map((message) => {
          const messageId = `published-${this.published.length + 1}`;
          this.published.push({ ...message, messageId });
          return messageId;
        });
        return void send(200, { messageIds });
      }
      default:
        return void send(404, { error: { message: `stand-in has no ${path}` } });
    }
  }

  private pull(maxMessages: number) {
    const leased = new Set(this.leases.values());
    const available = [...this.waiting.values()].filter((message) => !leased.has(message.messageId)).slice(0, maxMessages);
    return {
      receivedMessages: available.map((message) => {
        const ackId = `ack-${this.nextAckId++}`;
        this.leases.set(ackId, message.messageId);
        return { ackId, message: { ...message, publishTime: "2026-01-06T01:00:00Z" } };
      }),
    };
  }
}
