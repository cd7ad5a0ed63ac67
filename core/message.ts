import { preview, refuse, Refusal } from "./refusals";
import type { LoadBalancerLogEntry } from "./logEntry";

/** A Pub/Sub message as CloudEvents and push subscriptions deliver it: the LogEntry is base64 JSON in `data`. */
export interface PubSubMessage {
  readonly data?: unknown;
  readonly messageId?: unknown;
  readonly attributes?: unknown;
  readonly publishTime?: unknown;
}

/** Decodes a message's LogEntry, or refuses it; never throws. */
export function decodeLogEntry(message: PubSubMessage | undefined): { ok: true; entry: LoadBalancerLogEntry } | Refusal {
  if (typeof message?.data !== "string" || message.data === "") {
    return refuse("invalid_message", `message.data is ${preview(message?.data)}, not base64 text`);
  }
  const text = Buffer.from(message.data, "base64").toString("utf8");
  try {
    return { ok: true, entry: JSON.parse(text) as LoadBalancerLogEntry };
  } catch {
    return refuse("invalid_message", `message.data decodes to ${preview(text)}, which is not JSON`);
  }
}
