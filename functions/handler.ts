import { AcceptedEvent, logEntryToEvent, Refusal, RefusalReason } from "./core/event";
import { decodeLogEntry, PubSubMessage } from "./core/message";
import type { CoreSettings } from "./core/settings";

/** Where accepted events go: BigQuery in the cloud, DuckDB locally. */
export interface RowWriter {
  /** Resolves once the row is stored; rejects with RowRejectedError or with a transient error. */
  insert(event: AcceptedEvent): Promise<void>;
}

/** The store refused the row itself, so retrying cannot help; the message must reach the dead-letter topic. */
export class RowRejectedError extends Error {
  constructor(readonly detail: string) {
    super(`row rejected: ${detail}`);
    this.name = "RowRejectedError";
  }
}

/** One JSON line per refusal or failure; Cloud Logging reads `severity` and `message` from it. */
export interface LogLine {
  severity: "INFO" | "WARNING" | "ERROR";
  message: string;
  reason: RefusalReason | "write_failed";
  detail: string;
  /** The log entry's own insertId: with it the raw entry can be found in Cloud Logging or the archive. */
  insertId?: string;
  messageId?: string;
}

export type Logger = (line: LogLine) => void;

export const jsonLineLogger: Logger = (line) => console.log(JSON.stringify(line));

// Traffic that is expected at any pixel (favicons, CDN revalidation): logged, but not a warning.
const ROUTINE_REFUSALS: ReadonlySet<RefusalReason> = new Set([
  "cdn_subrequest",
  "other_path",
  "method_not_counted",
  "status_not_counted",
]);

export type HandleOutcome = { inserted: AcceptedEvent } | { refused: Refusal };

/**
 * Turns one Pub/Sub message into at most one stored row.
 * Resolves (the message is acked) when the row is stored or the input is refused;
 * rejects (the message is redelivered, then dead-lettered) when the write fails.
 */
export async function handlePixelMessage(
  message: PubSubMessage | undefined,
  settings: CoreSettings,
  writer: RowWriter,
  log: Logger,
): Promise<HandleOutcome> {
  const messageId = typeof message?.messageId === "string" ? message.messageId : undefined;
  const decoded = decodeLogEntry(message);
  const result = decoded.ok ? logEntryToEvent(decoded.entry, settings) : decoded;
  const insertId = decoded.ok && typeof decoded.entry?.insertId === "string" ? decoded.entry.insertId : undefined;
  if (!result.ok) {
    log({
      severity: ROUTINE_REFUSALS.has(result.reason) ? "INFO" : "WARNING",
      message: `pixel event refused: ${result.reason}`,
      reason: result.reason,
      detail: result.detail,
      insertId,
      messageId,
    });
    return { refused: result };
  }
  try {
    await writer.insert(result);
    return { inserted: result };
  } catch (error) {
    const rejected = error instanceof RowRejectedError;
    log({
      severity: rejected ? "ERROR" : "WARNING",
      message: rejected ? "row rejected by the store; the message will be dead-lettered" : "write failed; the message will be retried",
      reason: rejected ? "bigquery_invalid_row" : "write_failed",
      detail: rejected ? error.detail : String(error),
      insertId,
      messageId,
    });
    throw error;
  }
}
