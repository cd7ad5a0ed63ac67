import type { AcceptedEvent } from "./event";
import { isRoutineRefusal } from "./refusals";
import type { Refusal } from "./refusals";

/** What became of one message's event. */
export type DeliveryOutcome =
  | { readonly kind: "stored"; readonly event: AcceptedEvent }
  | { readonly kind: "refused"; readonly refusal: Refusal }
  /** The store refused the row itself (BigQuery "invalid", a DuckDB conversion error): the same write fails again. */
  | { readonly kind: "rejected"; readonly event: AcceptedEvent; readonly detail: string }
  /**
   * The write did not complete (5xx, 429, network, deadline, a failed transaction), or BigQuery
   * does not know a column the template just gained ("no such field"): it may succeed later.
   */
  | { readonly kind: "failed"; readonly event: AcceptedEvent; readonly detail: string };

/** A row that reached the store and was not stored. */
export type UnstoredOutcome = Extract<DeliveryOutcome, { kind: "rejected" | "failed" }>;

/** What the subscriber does with the message. */
export type Decision = "ack" | "retry" | "dead_letter";

/**
 * The reasons logged for rows that were not stored, beside the parser's refusal reasons. The
 * refusal metric counts every logged reason, and the runbooks name these.
 */
export const DELIVERY_FAILURE_REASONS = {
  row_rejected: "The store refused the row itself (a value BigQuery cannot convert to its column's type, say); it is dead-lettered.",
  write_failed: "The write did not complete (5xx, 429, network, a deadline or a failed transaction), or BigQuery does not know a column the template just gained (no such field); it is retried.",
} as const;

export type DeliveryFailureReason = keyof typeof DELIVERY_FAILURE_REASONS;

export interface DeliveryPolicy {
  /** Deliveries a rejected row gets before it is dead-lettered. */
  readonly rejectedAttempts: number;
  /** Deliveries a failed write gets before it is dead-lettered; Infinity retries until it succeeds. */
  readonly failedAttempts: number;
}

/*
 * The three paths share one rule (decide) and differ only in its two budgets:
 * - cloud: Pub/Sub counts deliveries and dead-letters a message after maxDeliveryAttempts, the
 *   setting the push subscription and the function are both given. The function cannot dead-letter by
 *   itself, it only answers, so a rejected row comes back like a failed write until Pub/Sub moves
 *   it (meanwhile a day table may take a new schema and accept it).
 * - local: the loader dead-letters a rejected row at once into the refusals table, and retries a
 *   failed transaction until it commits, because the spool keeps every entry until then.
 * - replay: a failed write is retried a few times and then stops the run (it can be run again, ids
 *   are stable); a rejected row is reported at once and not written.
 */
export function cloudDelivery(maxDeliveryAttempts: number): DeliveryPolicy {
  return { rejectedAttempts: maxDeliveryAttempts, failedAttempts: maxDeliveryAttempts };
}

export const LOCAL_DELIVERY: DeliveryPolicy = { rejectedAttempts: 1, failedAttempts: Infinity };

export function replayDelivery(attempts: number): DeliveryPolicy {
  return { rejectedAttempts: 1, failedAttempts: attempts };
}

/** Ack what was stored or refused; retry a row that was not stored until its budget is spent, then dead-letter it. */
export function decide(outcome: DeliveryOutcome["kind"], attempt: number, policy: DeliveryPolicy): Decision {
  switch (outcome) {
    case "stored":
    case "refused":
      return "ack";
    case "rejected":
      return attempt >= policy.rejectedAttempts ? "dead_letter" : "retry";
    case "failed":
      return attempt >= policy.failedAttempts ? "dead_letter" : "retry";
  }
}

/**
 * The batch loader's one line for the refusals of an archive object past its per-object bound:
 * they are counted (in `refused`), not logged one by one.
 */
export const REFUSALS_NOT_LOGGED = "refusals_not_logged";

/** One JSON line per refusal or row not stored; Cloud Logging reads `severity` and `message` from it. */
export interface LogLine {
  severity: "INFO" | "WARNING" | "ERROR";
  message: string;
  reason: Refusal["reason"] | DeliveryFailureReason | typeof REFUSALS_NOT_LOGGED;
  detail: string;
  /** The log entry's own insertId: with it the raw entry can be found in Cloud Logging or the archive. */
  insertId?: string;
  messageId?: string;
  /** The archive object the batch loader read the entry from (gs://bucket/name). */
  object?: string;
  /** Refusals by reason, on the batch loader's REFUSALS_NOT_LOGGED line. */
  refused?: Readonly<Record<string, number>>;
}

export type Logger = (line: LogLine) => void;

/** What identifies a message in log lines. */
export type MessageIds = Pick<LogLine, "insertId" | "messageId">;

/** The line for an entry the core refused: the collector's, and the batch loader's, which names the object instead of a message. */
export function refusalLine(refusal: Refusal, ids: MessageIds & Pick<LogLine, "object">): LogLine {
  return {
    severity: isRoutineRefusal(refusal.reason) ? "INFO" : "WARNING",
    message: `pixel event refused: ${refusal.reason}`,
    reason: refusal.reason,
    detail: refusal.detail,
    ...ids,
  };
}

const UNSTORED_MESSAGES: Record<"rejected" | "failed", Record<"retry" | "dead_letter", string>> = {
  rejected: { retry: "row rejected by the store; the message will be retried, then dead-lettered", dead_letter: "row rejected by the store; the message is dead-lettered" },
  failed: { retry: "write failed; the message will be retried", dead_letter: "write failed on every attempt; the message is dead-lettered" },
};

/** The line for a row that was not stored: an error when events go missing without a retry that could fix it, a warning while a write is retried. */
export function unstoredLine(
  outcome: UnstoredOutcome,
  decision: Exclude<Decision, "ack">,
  ids: MessageIds,
): LogLine {
  return {
    severity: outcome.kind === "rejected" || decision === "dead_letter" ? "ERROR" : "WARNING",
    message: UNSTORED_MESSAGES[outcome.kind][decision],
    reason: outcome.kind === "rejected" ? "row_rejected" : "write_failed",
    detail: outcome.detail,
    ...ids,
  };
}
