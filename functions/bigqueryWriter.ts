import type { Table } from "@google-cloud/bigquery";
import type { AcceptedEvent } from "../core/event";
import { storedRow } from "../core/layout";
import type { Layout } from "../core/layout";
import { RowRejectedError, RowWriter } from "./handler";

interface InsertError {
  errors?: { reason?: string; message?: string }[];
}

/** Well within the function's timeout, so a hung call ends as a Pub/Sub redelivery, not a stuck instance. */
export const DEFAULT_INSERT_DEADLINE_MS = 10_000;

export class InsertDeadlineError extends Error {
  constructor(deadlineMs: number) {
    super(`insertAll did not answer within ${deadlineMs} ms`);
    this.name = "InsertDeadlineError";
  }
}

/**
 * BigQuery does not know some of the row's columns yet: after the template's schema gained
 * columns, a day table takes them only once BigQuery applies the template to it, which can take
 * minutes. The row is right and the table will catch up, so this is a failed write, retried,
 * not a rejected row.
 */
export class SchemaNotYetAppliedError extends Error {
  constructor(detail: string) {
    super(`BigQuery does not know a column of the row yet (the table may not have the template's new schema): ${detail}`);
    this.name = "SchemaNotYetAppliedError";
  }
}

/** BigQuery's answer for a column the table lacks: reason "invalid", message "no such field: <name>." */
const NO_SUCH_FIELD = /^no such field\b/i;

/**
 * Streams each event with one insertAll call, so there is no dataset or table lookup per event.
 * per-tenant-day: on the template table with the event's templateSuffix; BigQuery creates the day
 * table from the template on first use. partitioned: on the partitioned table, with the tenant and
 * day as columns. `table` is the one insertTableName names for the layout.
 */
export function bigQueryWriter(table: Table, deadlineMs = DEFAULT_INSERT_DEADLINE_MS, layout: Layout = "per-tenant-day"): RowWriter {
  return {
    async insert(event: AcceptedEvent): Promise<void> {
      const insert = table.insert([{ insertId: event.insertId, json: storedRow(layout, event) }], {
        raw: true,
        ...(layout === "partitioned" ? {} : { templateSuffix: event.tableSuffix }),
        // Pub/Sub redelivery is the retry: the client's own partial retries would add API calls.
        partialRetries: 0,
      });
      try {
        await withDeadline(insert, deadlineMs);
      } catch (error) {
        const rowErrors = (error as { name?: string; errors?: InsertError[] }).errors ?? [];
        const reasons = rowErrors.flatMap((rowError) => rowError.errors ?? []);
        const invalid = reasons.filter((reason) => reason.reason === "invalid");
        if ((error as { name?: string }).name !== "PartialFailureError" || invalid.length === 0) throw error;
        const detail = reasons.map((reason) => `${reason.reason}: ${reason.message}`).join("; ");
        if (invalid.every((reason) => NO_SUCH_FIELD.test(reason.message ?? ""))) throw new SchemaNotYetAppliedError(detail);
        throw new RowRejectedError(detail);
      }
    },
  };
}

/**
 * The client's own `timeout` option is passed to node-fetch 3, which ignores it
 * (googleapis/google-cloud-node#7998), so the deadline is kept here. The abandoned call may still
 * store its row; the redelivery carries the same insertId, so BigQuery drops the duplicate. Its late
 * failure needs no handler of its own: Promise.race has already subscribed to it.
 */
async function withDeadline<T>(call: Promise<T>, deadlineMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InsertDeadlineError(deadlineMs)), deadlineMs);
  });
  try {
    return await Promise.race([call, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
