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
        if ((error as { name?: string }).name === "PartialFailureError" && reasons.some((reason) => reason.reason === "invalid")) {
          throw new RowRejectedError(reasons.map((reason) => `${reason.reason}: ${reason.message}`).join("; "));
        }
        throw error;
      }
    },
  };
}

/**
 * The client's own `timeout` option is passed to node-fetch 3, which ignores it
 * (googleapis/google-cloud-node#7998), so the deadline is kept here. The abandoned call may still
 * store its row; the redelivery carries the same insertId, so BigQuery drops the duplicate.
 */
async function withDeadline<T>(call: Promise<T>, deadlineMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InsertDeadlineError(deadlineMs)), deadlineMs);
  });
  call.catch(() => undefined); // its late failure is already reported as the deadline
  try {
    return await Promise.race([call, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
