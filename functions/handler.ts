import type { CoreSettings } from "../core/config/coreSettings";
import { logEntryToEvent } from "../core/event";
import type { AcceptedEvent } from "../core/event";
import { decodeLogEntry } from "../core/message";
import type { PubSubMessage } from "../core/message";
import { decide, refusalLine, unstoredLine } from "../core/delivery";
import type { Decision, DeliveryOutcome, DeliveryPolicy, Logger, MessageIds, UnstoredOutcome } from "../core/delivery";

export const jsonLineLogger: Logger = (line) => console.log(JSON.stringify(line));

/** Where accepted events go: BigQuery in the cloud, DuckDB locally. */
export interface RowWriter {
  /** Resolves once the row is stored; rejects with RowRejectedError or with a transient error. */
  insert(event: AcceptedEvent): Promise<void>;
}

/** The store refused the row itself, so the same write would fail again. */
export class RowRejectedError extends Error {
  constructor(readonly detail: string) {
    super(`row rejected: ${detail}`);
    this.name = "RowRejectedError";
  }
}

export interface MessageHandling {
  readonly settings: CoreSettings;
  readonly writer: RowWriter;
  readonly log: Logger;
  readonly policy: DeliveryPolicy;
  /**
   * This message's delivery attempt, counted from 1, where the path knows it. Pub/Sub's push does
   * not reach the function with it, so there the first is assumed and Pub/Sub keeps the count.
   */
  readonly attempt?: number;
}

export interface Handled {
  readonly outcome: DeliveryOutcome;
  readonly decision: Decision;
  /** The ids the handler's log lines carry. */
  readonly ids: MessageIds;
}

/**
 * Turns one Pub/Sub message into at most one stored row, and decides by the delivery policy what
 * the subscriber does with the message. Logs each refusal, and each row that was not stored.
 * Never throws: a failed write is an outcome.
 */
export async function handlePixelMessage(message: PubSubMessage | undefined, handling: MessageHandling): Promise<Handled> {
  const decoded = decodeLogEntry(message);
  const result = decoded.ok ? logEntryToEvent(decoded.entry, handling.settings) : decoded;
  const ids: MessageIds = {
    insertId: decoded.ok && typeof decoded.entry?.insertId === "string" ? decoded.entry.insertId : undefined,
    messageId: typeof message?.messageId === "string" ? message.messageId : undefined,
  };
  if (!result.ok) {
    handling.log(refusalLine(result, ids));
    return { outcome: { kind: "refused", refusal: result }, decision: "ack", ids };
  }
  const outcome = await store(result, handling.writer);
  const decision = decide(outcome.kind, handling.attempt ?? 1, handling.policy);
  if (outcome.kind !== "stored" && decision !== "ack") handling.log(unstoredLine(outcome, decision, ids));
  return { outcome, decision, ids };
}

async function store(event: AcceptedEvent, writer: RowWriter): Promise<Exclude<DeliveryOutcome, { kind: "refused" }>> {
  try {
    await writer.insert(event);
    return { kind: "stored", event };
  } catch (error) {
    return unstoredOutcome(event, error);
  }
}

/** What a failed insert means to the delivery policy: the store rejected the row, or the write failed. */
export function unstoredOutcome(event: AcceptedEvent, error: unknown): UnstoredOutcome {
  return error instanceof RowRejectedError ? { kind: "rejected", event, detail: error.detail } : { kind: "failed", event, detail: String(error) };
}
